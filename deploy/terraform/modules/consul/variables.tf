variable "datacenter" {
  description = "Consul datacenter of this region's cluster; the platform names it after the region (\"us-east\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.datacenter))
    error_message = "datacenter must look like \"us-east\"."
  }
}

variable "primary_datacenter" {
  description = "The WAN federation's primary datacenter. The call whose datacenter equals it installs the primary and exports federation_secret; the others import it."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.primary_datacenter))
    error_message = "primary_datacenter must look like \"us-east\"."
  }
}

variable "federation_secret" {
  description = "Secondaries only: the primary's federation Secret data (the primary call's federation_secret output): caCert, caKey, gossipEncryptionKey, serverConfigJSON and, with ACLs, replicationToken."
  type        = map(string)
  default     = null
  sensitive   = true
}

variable "namespace" {
  description = "Namespace of the Consul release."
  type        = string
  default     = "consul"
}

variable "release_name" {
  description = "Helm release name; with global.name = \"consul\" the servers are consul-server and the federation Secret consul-federation."
  type        = string
  default     = "consul"
}

variable "chart_repository" {
  description = "Helm repository of the hashicorp/consul chart."
  type        = string
  default     = "https://helm.releases.hashicorp.com"
}

variable "chart_version" {
  description = "Version of the hashicorp/consul chart (consul-k8s 1.0.x is the line for Consul 1.14, the version the platform is tested with)."
  type        = string
  default     = "1.0.8"
}

variable "consul_image" {
  description = "Consul image for servers and client agents; the platform's tests run v1.14.11."
  type        = string
  default     = "hashicorp/consul:1.14.11"
}

variable "server_replicas" {
  description = "Consul servers in this datacenter (odd: 3 or 5)."
  type        = number
  default     = 3

  validation {
    condition     = var.server_replicas % 2 == 1
    error_message = "server_replicas must be odd."
  }
}

variable "manage_system_acls" {
  description = "Let the chart bootstrap ACLs (global.acls.manageSystemACLs). payd and payedge then need a token with service:write on payd/payedge and key:read/write on paycenter/ (modules/region consul_acl_token)."
  type        = bool
  default     = false
}

variable "k8s_auth_method_host" {
  description = "Secondaries with ACLs: this cluster's Kubernetes API address, reachable from the primary's servers (global.federation.k8sAuthMethodHost)."
  type        = string
  default     = ""
}

variable "mesh_gateway_service_type" {
  description = "Service type of the mesh gateways WAN federation goes through (they must be reachable from the other regions' gateways)."
  type        = string
  default     = "LoadBalancer"

  validation {
    condition     = contains(["LoadBalancer", "NodePort"], var.mesh_gateway_service_type)
    error_message = "mesh_gateway_service_type must be LoadBalancer or NodePort."
  }
}
