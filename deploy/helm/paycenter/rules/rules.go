// Package rules carries the platform's Prometheus alerting rules (paycenter.rules.yaml, the
// file the Helm chart's PrometheusRule is rendered from) into Go, so the local platform
// loads the very same file.
package rules

import _ "embed"

// File is paycenter.rules.yaml.
//
//go:embed paycenter.rules.yaml
var File []byte

// FileName is the rules file's name.
const FileName = "paycenter.rules.yaml"
