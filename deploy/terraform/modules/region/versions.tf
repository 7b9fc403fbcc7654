terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # The 2.x line: its helm_release takes `set` blocks and a nested `kubernetes` block in the
    # provider configuration (3.x changed both).
    helm = {
      source  = "hashicorp/helm"
      version = ">= 2.12.0, < 3.0.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.23.0, < 3.0.0"
    }
  }
}
