#!/usr/bin/env bash
# Builds Stripe's official mock server (github.com/stripe/stripe-mock) into <repo>/.local/bin,
# once: when .local/bin/stripe-mock already exists nothing is done. The card acquirer's tests
# (core/cardacq) run their conformance suite against it.
#
#   deploy/tools/stripemock/build.sh          build if missing, print the binary's path
#   STRIPE_MOCK_VERSION=v0.xxx.0 build.sh     another version (default below)
#   FORCE=1 build.sh                          rebuild even if the binary exists
#
# It needs only Go and the module proxy: `go install pkg@version` ignores the main module's
# go.mod, so nothing is added to it. Works with an empty module cache and with
# GOFLAGS=-buildvcs=false set.
set -euo pipefail

version="${STRIPE_MOCK_VERSION:-v0.203.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="$root/.local/bin"
out="$bin/stripe-mock"
go="${GO:-go}"

if [[ -x "$out" && -z "${FORCE:-}" ]]; then
	echo "stripe-mock: $out already built (FORCE=1 rebuilds)" >&2
	echo "$out"
	exit 0
fi

mkdir -p "$bin"
echo "stripe-mock: building github.com/stripe/stripe-mock@$version into $bin ..." >&2
start=$(date +%s)
# -trimpath keeps the build reproducible; GOFLAGS from the environment (-buildvcs=false) is
# honoured. GOWORK=off: a go.work elsewhere must not influence the tool's build.
GOWORK=off GOBIN="$bin" "$go" install -trimpath "github.com/stripe/stripe-mock@$version"
if [[ ! -x "$out" ]]; then
	echo "stripe-mock: go install finished but $out is missing" >&2
	exit 1
fi
echo "stripe-mock: built in $(( $(date +%s) - start ))s: $out" >&2
echo "$out"
