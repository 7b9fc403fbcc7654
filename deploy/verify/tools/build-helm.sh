#!/usr/bin/env bash
# Builds the pinned Helm CLI (helm.sh/helm/v3) from the Go module proxy into
# <repo>/.local/bin/helm, once: when .local/bin/helm already is the pinned version nothing is
# done. deploy/verify's tests run `helm lint` and `helm template` on deploy/helm/paycenter with
# it.
#
#   deploy/verify/tools/build-helm.sh            build if missing, print the binary's path
#   HELM_VERSION=v3.x.y build-helm.sh            another version (default below)
#   FORCE=1 build-helm.sh                        rebuild even if the binary exists
#
# Progress goes to stderr, the binary's path to stdout. It needs only Go and the module
# proxy: `go install pkg@version` ignores every go.mod around it, so nothing is added to the
# platform's or deploy/verify's modules. Works with an empty module cache and with
# GOFLAGS=-buildvcs=false set. Measured on the 2-core development machine with empty module
# and build caches (GOMODCACHE, GOCACHE) and GOFLAGS=-buildvcs=false: 2 min 32 s, downloads
# and compiling; instant once built.
set -euo pipefail

version="${HELM_VERSION:-v3.22.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="$root/.local/bin"
out="$bin/helm"
go="${GO:-go}"

command -v "$go" >/dev/null || { echo "helm: '$go' not found: Go is needed to build Helm" >&2; exit 1; }

# A go-installed helm reports a bare "v3.22" (no ldflags), so compare the module version Go
# recorded in the binary, which is exact.
built_version() { "$go" version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v3" { print $3; exit }'; }

mkdir -p "$bin"
# Two runs at once (two `go test` in one clone) build once: the second waits here.
exec 9>"$bin/.helm.lock"
if command -v flock >/dev/null; then flock 9; fi

if [[ -x "$out" && -z "${FORCE:-}" && "$(built_version "$out")" == "$version" ]]; then
	echo "helm: $out is $version already (FORCE=1 rebuilds)" >&2
	echo "$out"
	exit 0
fi

echo "helm: building helm.sh/helm/v3/cmd/helm@$version into $bin (about 2 to 4 minutes, once) ..." >&2
start=$(date +%s)
# -trimpath keeps the build reproducible; GOFLAGS from the environment (-buildvcs=false) is
# honoured. GOWORK=off: a go.work elsewhere must not influence the tool's build.
GOWORK=off GOBIN="$bin" "$go" install -trimpath "helm.sh/helm/v3/cmd/helm@$version"
if [[ ! -x "$out" ]]; then
	echo "helm: go install finished but $out is missing" >&2
	exit 1
fi
echo "helm: built $(built_version "$out") in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
