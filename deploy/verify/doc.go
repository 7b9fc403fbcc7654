// Package verify checks the platform's deployment code offline: the Helm chart
// (deploy/helm/paycenter) with the pinned helm, and the Terraform modules (deploy/terraform)
// with the pinned terraform and an HCL parser. It is a module of its own so that the
// Kubernetes API types and the HCL parser never reach the platform's go.mod.
package verify
