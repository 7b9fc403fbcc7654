#!/usr/bin/env bash
# Builds the pinned Mailpit SMTP server (web UI and API) from the Go module proxy into <repo>/.local/bin/mailpit.
#
# Mailpit has no OS package here and cannot be downloaded, but it builds from its Go module.
# The version is pinned by this directory's go.mod; the binary is rebuilt only when it is
# missing or was built from another go.mod/go.sum (recorded next to it in mailpit.stamp).
#
#   deploy/tools/mailpit/build.sh          build if needed, print the binary's path
#   deploy/tools/mailpit/build.sh -f       rebuild even if it looks up to date
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
bin="$bindir/mailpit"
stamp="$bindir/mailpit.stamp"
go=${GO:-go}

force=
case "${1:-}" in
  -f|--force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [-f]" >&2; exit 2 ;;
esac

command -v "$go" >/dev/null || { echo "build.sh: '$go' not found: Go is needed to build Mailpit" >&2; exit 1; }

# The version comes from go.mod, so bumping the pin there is all an upgrade takes.
version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/axllent/mailpit") { print $(i+1); exit } }' "$here/go.mod")
[ -n "$version" ] || { echo "build.sh: no github.com/axllent/mailpit requirement in $here/go.mod" >&2; exit 1; }
want="mailpit $version $(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1)"

# The binary must print its version second on the first line of 'mailpit version -c'
# ("<path> vX.Y.Z compiled with ..."; -c skips the release check, which needs the network).
works() { [ -x "$1" ] && [ "$("$1" version --no-release-check 2>/dev/null | head -n1 | cut -d' ' -f2)" = "$version" ]; }

mkdir -p "$bindir"
# Two runs at once (say two 'make test' in one clone) build once: the second waits here.
exec 9>"$bindir/.mailpit.lock"
if command -v flock >/dev/null; then flock 9; fi

if [ -z "$force" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && works "$bin"; then
  echo "mailpit $version is up to date: $bin"
  exit 0
fi

echo "building mailpit $version from the Go module proxy (a few minutes, once)..." >&2
start=$(date +%s)
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# GOWORK=off: a go.work above the repo must not pull this module into a workspace.
# GOFLAGS keeps the caller's flags and ends with ours, which win:
# -mod=readonly: go.mod and go.sum are the pin; a build never rewrites them.
# -buildvcs=false: the module sits inside the repo's git tree, but the binary records no VCS.
if ! (cd "$here" && GOWORK=off GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false" \
      "$go" build -trimpath -ldflags="-s -w -X github.com/axllent/mailpit/config.Version=$version" -o "$tmp" github.com/axllent/mailpit); then
  echo "build.sh: building mailpit $version failed (see the go output above)" >&2
  exit 1
fi
works "$tmp" || { echo "build.sh: the built binary does not report version $version" >&2; exit 1; }
mv -f "$tmp" "$bin"
echo "$want" >"$stamp"
echo "built mailpit $version in $(( $(date +%s) - start ))s: $bin" >&2
