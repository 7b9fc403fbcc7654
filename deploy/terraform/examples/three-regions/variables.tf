variable "kubeconfig_path" {
  description = "kubeconfig file with one context per region's cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_contexts" {
  description = "kubeconfig context of each region's cluster, keyed by region."
  type        = map(string)
  default = {
    "us-east"  = "us-east"
    "eu-west"  = "eu-west"
    "ap-south" = "ap-south"
  }

  validation {
    condition     = alltrue([for r in ["us-east", "eu-west", "ap-south"] : contains(keys(var.kube_contexts), r)])
    error_message = "kube_contexts needs us-east, eu-west and ap-south."
  }
}

variable "aws_api_region" {
  description = "AWS region of the aws provider's API calls (Route 53 itself is global)."
  type        = string
  default     = "us-east-1"
}

variable "image_tag" {
  description = "Image tag of payd and payedge in every region; empty: the chart's appVersion."
  type        = string
  default     = ""
}

variable "domain" {
  description = "Domain of the endpoints: us-east.<domain>, eu-west.<domain>, ap-south.<domain> and api.<domain>."
  type        = string
  default     = "pay.example.com"
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain."
  type        = string
}

variable "aws_regions" {
  description = "AWS region each platform region runs in, for Route 53 latency routing."
  type        = map(string)
  default = {
    "us-east"  = "us-east-1"
    "eu-west"  = "eu-west-1"
    "ap-south" = "ap-south-1"
  }
}

variable "cockroachdb_mode" {
  description = "\"self_hosted\" (the cockroachdb chart in every region's cluster) or \"external\" (a managed cluster at external_database_url)."
  type        = string
  default     = "self_hosted"

  validation {
    condition     = contains(["self_hosted", "external"], var.cockroachdb_mode)
    error_message = "cockroachdb_mode must be \"self_hosted\" or \"external\"."
  }
}

variable "cockroachdb_join_addresses" {
  description = "self_hosted: host:port of CockroachDB nodes in every region, reachable from all three clusters."
  type        = list(string)
  default     = []
}

variable "external_database_url" {
  description = "external: pgwire URL of the managed cluster payd connects to."
  type        = string
  default     = null
  sensitive   = true
}

variable "cockroachdb_admin_url" {
  description = "Admin SQL URL reachable from the machine running Terraform, for the multi-region overlay (e.g. through a kubectl port-forward)."
  type        = string
  sensitive   = true
}

variable "database_tls_files" {
  description = "The database client's TLS files for payd (ca.crt, client.payd.crt, client.payd.key), name => PEM."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "admin_token" {
  description = "Operator bearer token for /v1/admin, the same in every region (at least 16 bytes)."
  type        = string
  sensitive   = true
}

variable "node_secret_key" {
  description = "payd -secret-key, the same in every region (at least 32 bytes)."
  type        = string
  sensitive   = true
}

variable "card_acquirer_key" {
  description = "The card acquirer's secret key; empty: cards go to the channel simulator."
  type        = string
  default     = ""
  sensitive   = true
}

variable "channel_signing_key_pem" {
  description = "The platform's RSA private key (PEM) that signs channel requests."
  type        = string
  sensitive   = true
}

variable "channel_public_key_pem" {
  description = "The channels' public key (PEM)."
  type        = string
  sensitive   = true
}
