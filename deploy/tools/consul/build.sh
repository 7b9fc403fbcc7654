#!/usr/bin/env bash
# Builds the pinned Consul agent from the Go module proxy into <repo>/.local/bin/consul.
#
# Consul has no OS package here and cannot be downloaded, but it builds from its Go module.
# The version is pinned by this directory's go.mod; the binary is rebuilt only when it is
# missing or was built from another go.mod/go.sum (recorded next to it in consul.stamp).
#
#   deploy/tools/consul/build.sh          build if needed, print the binary's path
#   deploy/tools/consul/build.sh -f       rebuild even if it looks up to date
#
# Progress and errors go to stderr, so `build.sh >/dev/null` is quiet only when nothing is
# built.
#
# Environment: GO (default go). Works from a fresh clone with an empty module cache, and with
# GOFLAGS=-buildvcs=false (or other GOFLAGS) in the environment. Exits non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
bindir="$repo/.local/bin"
bin="$bindir/consul"
stamp="$bindir/consul.stamp"
go=${GO:-go}

force=
case "${1:-}" in
  -f|--force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [-f]" >&2; exit 2 ;;
esac

command -v "$go" >/dev/null || { echo "build.sh: '$go' not found: Go is needed to build Consul" >&2; exit 1; }

# The version comes from go.mod, so bumping the pin there is all an upgrade takes.
version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/hashicorp/consul") { print $(i+1); exit } }' "$here/go.mod")
[ -n "$version" ] || { echo "build.sh: no github.com/hashicorp/consul requirement in $here/go.mod" >&2; exit 1; }
want="consul $version $(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1)"

# The binary must answer "Consul vX.Y.Z" on its first line of 'consul version'.
works() { [ -x "$1" ] && [ "$("$1" version 2>/dev/null | head -n1)" = "Consul $version" ]; }

mkdir -p "$bindir"
# Two runs at once (say two 'make test' in one clone) build once: the second waits here.
exec 9>"$bindir/.consul.lock"
if command -v flock >/dev/null; then flock 9; fi

if [ -z "$force" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && works "$bin"; then
  echo "consul $version is up to date: $bin"
  exit 0
fi

echo "building consul $version from the Go module proxy (about 3 to 5 minutes, once)..." >&2
start=$(date +%s)
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# GOWORK=off: a go.work above the repo must not pull this module into a workspace.
# GOFLAGS keeps the caller's flags and ends with ours, which win:
# -mod=readonly: go.mod and go.sum are the pin; a build never rewrites them.
# -buildvcs=false: the module sits inside the repo's git tree, but the binary records no VCS.
if ! (cd "$here" && GOWORK=off GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false" \
      "$go" build -trimpath -ldflags="-s -w" -o "$tmp" github.com/hashicorp/consul); then
  echo "build.sh: building consul $version failed (see the go output above)" >&2
  exit 1
fi
works "$tmp" || { echo "build.sh: the built binary does not report 'Consul $version'" >&2; exit 1; }
mv -f "$tmp" "$bin"
echo "$want" >"$stamp"
echo "built consul $version in $(( $(date +%s) - start ))s: $bin" >&2
