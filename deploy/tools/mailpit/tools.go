//go:build tools

// Package tools pins the Mailpit SMTP server (with its web UI and API) that build.sh builds
// from the Go module proxy. The blank import keeps github.com/axllent/mailpit (and
// everything it needs) in this module's go.mod and go.sum; the build tag keeps it out of
// every ordinary build.
package tools

import _ "github.com/axllent/mailpit"
