#!/usr/bin/env bash
# Builds the pinned Terraform CLI (github.com/hashicorp/terraform) from the Go module proxy into
# <repo>/.local/bin/terraform, once: when .local/bin/terraform already is the pinned version
# nothing is done. deploy/verify's tests run `terraform fmt -check -recursive` on
# deploy/terraform with it. (Providers cannot be downloaded here, so `terraform init` and
# `terraform validate` cannot run; the tests parse the HCL themselves instead.)
#
#   deploy/verify/tools/build-terraform.sh       build if missing, print the binary's path
#   TERRAFORM_VERSION=v1.x.y build-terraform.sh  another version (default below)
#   FORCE=1 build-terraform.sh                   rebuild even if the binary exists
#
# A `terraform` on PATH (e.g. /usr/local/bin/terraform) is never used: the tests want this
# exact version, because `terraform fmt` output changes between releases.
#
# Progress goes to stderr, the binary's path to stdout. It needs only Go and the module
# proxy: `go install pkg@version` ignores every go.mod around it, so nothing is added to the
# platform's or deploy/verify's modules. Works with an empty module cache and with
# GOFLAGS=-buildvcs=false set. Measured on the 2-core development machine with empty module
# and build caches (GOMODCACHE, GOCACHE) and GOFLAGS=-buildvcs=false: 2 min 39 s, downloads
# and compiling; instant once built.
set -euo pipefail

version="${TERRAFORM_VERSION:-v1.5.7}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="$root/.local/bin"
out="$bin/terraform"
go="${GO:-go}"

command -v "$go" >/dev/null || { echo "terraform: '$go' not found: Go is needed to build Terraform" >&2; exit 1; }

# The module version Go recorded in the binary is exact, whatever `terraform version` prints.
built_version() { "$go" version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/hashicorp/terraform" { print $3; exit }'; }

mkdir -p "$bin"
# Two runs at once (two `go test` in one clone) build once: the second waits here.
exec 9>"$bin/.terraform.lock"
if command -v flock >/dev/null; then flock 9; fi

if [[ -x "$out" && -z "${FORCE:-}" && "$(built_version "$out")" == "$version" ]]; then
	echo "terraform: $out is $version already (FORCE=1 rebuilds)" >&2
	echo "$out"
	exit 0
fi

echo "terraform: building github.com/hashicorp/terraform@$version into $bin (about 2 to 4 minutes, once) ..." >&2
start=$(date +%s)
# -trimpath keeps the build reproducible; GOFLAGS from the environment (-buildvcs=false) is
# honoured. GOWORK=off: a go.work elsewhere must not influence the tool's build.
GOWORK=off GOBIN="$bin" "$go" install -trimpath "github.com/hashicorp/terraform@$version"
if [[ ! -x "$out" ]]; then
	echo "terraform: go install finished but $out is missing" >&2
	exit 1
fi
echo "terraform: built $(built_version "$out") in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
