# One Kubernetes cluster per region, each reached through its own kubeconfig context, with a
# helm and a kubernetes provider configuration (alias) per region. Route 53 is global; the
# aws provider's region only matters for its API endpoint.

provider "kubernetes" {
  alias          = "us_east"
  config_path    = var.kubeconfig_path
  config_context = var.kube_contexts["us-east"]
}

provider "helm" {
  alias = "us_east"
  kubernetes {
    config_path    = var.kubeconfig_path
    config_context = var.kube_contexts["us-east"]
  }
}

provider "kubernetes" {
  alias          = "eu_west"
  config_path    = var.kubeconfig_path
  config_context = var.kube_contexts["eu-west"]
}

provider "helm" {
  alias = "eu_west"
  kubernetes {
    config_path    = var.kubeconfig_path
    config_context = var.kube_contexts["eu-west"]
  }
}

provider "kubernetes" {
  alias          = "ap_south"
  config_path    = var.kubeconfig_path
  config_context = var.kube_contexts["ap-south"]
}

provider "helm" {
  alias = "ap_south"
  kubernetes {
    config_path    = var.kubeconfig_path
    config_context = var.kube_contexts["ap-south"]
  }
}

provider "aws" {
  region = var.aws_api_region
}
