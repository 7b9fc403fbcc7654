variable "zone_id" {
  description = "ID of the Route 53 hosted zone that holds domain."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]+$", var.zone_id))
    error_message = "zone_id must be a Route 53 hosted zone ID (Z...)."
  }
}

variable "domain" {
  description = "Domain of the regional endpoints, e.g. \"pay.example.com\": region us-east answers at us-east.pay.example.com."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.domain))
    error_message = "domain must be a DNS name such as pay.example.com."
  }
}

variable "endpoints" {
  description = "Each region's endpoint: the load balancer in front of its payedge (modules/region endpoint_load_balancer), the AWS region used for latency routing, and optionally the region whose endpoint answers for it while its own is unhealthy."
  type = map(object({
    target      = string
    aws_region  = string
    failover_to = optional(string)
  }))

  validation {
    condition     = length(var.endpoints) > 0 && alltrue([for r, e in var.endpoints : can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", r))])
    error_message = "endpoints must be keyed by region names like \"us-east\"."
  }

  validation {
    condition     = alltrue([for r, e in var.endpoints : e.target != "" && e.target != "pending"])
    error_message = "Every endpoint needs its load balancer's address (a load balancer still \"pending\" has none yet: apply again once it has)."
  }

  validation {
    condition     = alltrue([for r, e in var.endpoints : e.failover_to == null || (e.failover_to != r && contains(keys(var.endpoints), coalesce(e.failover_to, r)))])
    error_message = "failover_to must name another region of endpoints."
  }
}

variable "global_name" {
  description = "Name under domain that answers with the nearest healthy region (latency routing), e.g. \"api\" for api.pay.example.com; empty: none."
  type        = string
  default     = "api"
}

variable "ttl" {
  description = "TTL of the records in seconds; short, so that failover takes effect quickly."
  type        = number
  default     = 60

  validation {
    condition     = var.ttl >= 5 && var.ttl <= 3600
    error_message = "ttl must be between 5 and 3600 seconds."
  }
}

variable "health_check_path" {
  description = "Path Route 53 health checks request on each endpoint. /readyz goes through payedge to one of the region's nodes, so it fails when the region has no ready node (drained, or its database unreachable); /healthz checks payedge alone."
  type        = string
  default     = "/readyz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with '/'."
  }
}

variable "health_check_port" {
  description = "Port of the endpoints' health checks (HTTPS)."
  type        = number
  default     = 443
}
