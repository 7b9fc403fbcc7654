variable "region" {
  description = "The platform region this release serves (payd -region), e.g. \"us-east\". Must equal the `region` of the values files."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.region))
    error_message = "region must be lower-case letters, digits and '-', 3 to 32 characters, like \"us-east\"."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the release and of the Secrets it reads."
  type        = string
  default     = "paycenter"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a valid Kubernetes namespace name."
  }
}

variable "create_namespace" {
  description = "Create the namespace (false: it exists already)."
  type        = bool
  default     = true
}

variable "release_name" {
  description = "Helm release name; empty: \"paycenter-<region>\"."
  type        = string
  default     = ""
}

variable "chart_path" {
  description = "Path to the chart (deploy/helm/paycenter); empty: the chart in this repository, relative to this module."
  type        = string
  default     = ""
}

variable "values_files" {
  description = "Values files applied in order on top of the chart's values.yaml; empty: the chart's values-<region>.yaml."
  type        = list(string)
  default     = []
}

variable "extra_values" {
  description = "Values applied after values_files (an object, encoded as YAML), e.g. { payd = { autoscaling = { maxReplicas = 20 } } }. Never put secrets here: the chart reads them from Secrets."
  type        = any
  default     = {}
}

variable "image_tag" {
  description = "Image tag of payd and payedge (image.tag); empty: the chart's appVersion."
  type        = string
  default     = ""
}

variable "endpoint_public_url" {
  description = "Public base URL of the region's endpoint (endpoint.publicURL), e.g. https://us-east.pay.example.com; empty: the values files' value."
  type        = string
  default     = ""

  validation {
    condition     = var.endpoint_public_url == "" || can(regex("^https://[^/]+$", var.endpoint_public_url))
    error_message = "endpoint_public_url must be https://host with no path."
  }
}

variable "manage_secrets" {
  description = "Create the Secrets the chart names from the sensitive variables below (they are then stored in Terraform state: use an encrypted backend). false: they are created by other means (e.g. an external-secrets operator)."
  type        = bool
  default     = true
}

variable "secret_names" {
  description = "Names of the Secrets the chart reads; must match the chart values (database.urlSecret.name, secrets.*.name, channels.*)."
  type = object({
    database       = optional(string, "paycenter-database")
    database_tls   = optional(string, "paycenter-db-tls")
    admin_token    = optional(string, "paycenter-admin")
    node_secret    = optional(string, "paycenter-node")
    card_acquirer  = optional(string, "paycenter-card-acquirer")
    card_acquirer2 = optional(string, "paycenter-card-acquirer2")
    channel_keys   = optional(string, "paycenter-channel-keys")
    consul_token   = optional(string, "paycenter-consul-token")
  })
  default = {}
}

variable "database_url" {
  description = "pgwire URL of the shared database for payd and the migrations Job (Secret key `url`). Required with manage_secrets."
  type        = string
  default     = null
  sensitive   = true
}

variable "database_tls_files" {
  description = "Files of the database client's TLS Secret, name => PEM content (e.g. ca.crt, client.payd.crt, client.payd.key); empty: no such Secret."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "admin_token" {
  description = "Operator bearer token for /v1/admin (payd -admin-token), at least 16 bytes. Required with manage_secrets."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.admin_token == null || length(coalesce(var.admin_token, "x")) >= 16
    error_message = "admin_token must be at least 16 bytes."
  }
}

variable "node_secret_key" {
  description = "The node secret (payd -secret-key), at least 32 bytes, the same in every region: it keys card and request fingerprints and sealed channel credentials. Required with manage_secrets."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.node_secret_key == null || length(coalesce(var.node_secret_key, "x")) >= 32
    error_message = "node_secret_key must be at least 32 bytes."
  }
}

variable "card_acquirer_key" {
  description = "The card acquirer's secret key (payd -card-acquirer-key, Secret key `api-key`); empty: no Secret (cards go to the channel simulator)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "card_acquirer2_key" {
  description = "The second card acquirer's secret key (payd -card-acquirer2-key, Secret key `api-key`); empty: no Secret. Set the second acquirer's URL in the values (channels.cardAcquirer2.url)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "channel_signing_key_pem" {
  description = "The platform's RSA private key (PEM) that signs channel requests (payd -channel-key-file); empty: no channel keys Secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "channel_public_key_pem" {
  description = "The channels' public key (PEM) that verifies their answers and notifications (payd -channelsim-key-file)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "consul_acl_token" {
  description = "Consul ACL token for payd and payedge (CONSUL_HTTP_TOKEN); empty: no Secret (ACLs off). Enable it in the chart with consul.aclTokenSecret.name."
  type        = string
  default     = ""
  sensitive   = true
}

variable "timeout_seconds" {
  description = "How long Helm waits for the release (the migrations hook, then every Deployment ready)."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 60
    error_message = "timeout_seconds must be at least 60."
  }
}

variable "atomic" {
  description = "Roll the release back when an upgrade fails (helm --atomic)."
  type        = bool
  default     = true
}
