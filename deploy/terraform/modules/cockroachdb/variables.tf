variable "mode" {
  description = "\"self_hosted\": CockroachDB nodes in this region's cluster from the cockroachdb Helm chart, joined to the other regions' nodes; \"external\": a managed or existing cluster given by external_database_url (nothing is installed)."
  type        = string

  validation {
    condition     = contains(["self_hosted", "external"], var.mode)
    error_message = "mode must be \"self_hosted\" or \"external\"."
  }
}

variable "region" {
  description = "The platform region of this call (the nodes' locality region=<region>); CockroachDB's region names must equal the platform's, because rows are pinned by casting their `region` column."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.region))
    error_message = "region must look like \"us-east\"."
  }
}

variable "namespace" {
  description = "Namespace of the CockroachDB release (self_hosted)."
  type        = string
  default     = "cockroachdb"
}

variable "release_name" {
  description = "Helm release name (self_hosted); the SQL Service is <release_name>-public."
  type        = string
  default     = "cockroachdb"
}

variable "chart_repository" {
  description = "Helm repository of the cockroachdb chart."
  type        = string
  default     = "https://charts.cockroachdb.com/"
}

variable "chart_version" {
  description = "Version of the cockroachdb chart (11.0.5 ships CockroachDB v23.1.5, which has multi-region SQL: REGIONAL BY ROW, SURVIVE REGION FAILURE)."
  type        = string
  default     = "11.0.5"
}

variable "replicas" {
  description = "CockroachDB nodes in this region (self_hosted). SURVIVE REGION FAILURE needs at least 3 regions, and 3 nodes per region keep a region's replicas on distinct nodes."
  type        = number
  default     = 3

  validation {
    condition     = var.replicas >= 3
    error_message = "replicas must be at least 3."
  }
}

variable "storage_size" {
  description = "Persistent volume size per node (self_hosted), e.g. \"100Gi\"."
  type        = string
  default     = "100Gi"
}

variable "storage_class" {
  description = "StorageClass of the nodes' volumes (self_hosted); empty: the cluster's default."
  type        = string
  default     = ""
}

variable "join_addresses" {
  description = "host:port of CockroachDB nodes in every region, reachable from this region's pods (self_hosted), e.g. [\"cockroachdb-0.us-east.db.example.internal:26257\", ...]. Cross-cluster name resolution and routing are the network's job (VPC peering, per-pod load balancers or multi-cluster DNS)."
  type        = list(string)
  default     = []
}

variable "cluster_name" {
  description = "CockroachDB --cluster-name, the same in every region (self_hosted): nodes refuse to join a cluster of another name."
  type        = string
  default     = "paycenter"
}

variable "tls_node_secret" {
  description = "Secret with the node certificate (ca.crt, node.crt, node.key) signed by the CA every region shares (self_hosted). The chart's self-signer makes one CA per cluster, which cannot span regions, so certificates are provided."
  type        = string
  default     = "cockroachdb-node"
}

variable "tls_client_root_secret" {
  description = "Secret with the root client certificate (ca.crt, client.root.crt, client.root.key) from the shared CA (self_hosted)."
  type        = string
  default     = "cockroachdb-root"
}

variable "provision_database" {
  description = "Create the database and the SQL user payd connects as, through the chart's provisioning Job (self_hosted; set it in one region only)."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "SQL database of the platform. The overlay (deploy/cockroachdb/multiregion.sql) names it \"paycenter\"."
  type        = string
  default     = "paycenter"

  validation {
    condition     = var.database_name == "paycenter"
    error_message = "deploy/cockroachdb/multiregion.sql alters database \"paycenter\"; another name needs another overlay."
  }
}

variable "sql_user" {
  description = "SQL user payd and its migrations connect as (client certificate client.<user>.crt)."
  type        = string
  default     = "payd"
}

variable "external_database_url" {
  description = "pgwire URL of an external or managed multi-region CockroachDB cluster (mode external), e.g. postgresql://payd@host:26257/paycenter?sslmode=verify-full&sslrootcert=/etc/paycenter/db-tls/ca.crt."
  type        = string
  default     = null
  sensitive   = true
}

variable "apply_overlay" {
  description = "Apply the multi-region overlay after the schema migrations (true in exactly one call of this module). It runs `cockroach sql --file` on the machine running Terraform, once: the overlay is not idempotent."
  type        = bool
  default     = false
}

variable "schema_ready" {
  description = "Any value that is known only once `payd migrate` has run (the first region's modules/region release_revision output). The overlay waits for it; it is not re-applied when it changes."
  type        = string
  default     = ""
}

variable "overlay_file" {
  description = "Path to the overlay; empty: deploy/cockroachdb/multiregion.sql in this repository."
  type        = string
  default     = ""
}

variable "overlay_regions" {
  description = "The database's regions, primary first. They must be exactly the regions the overlay file adds (its PRIMARY REGION, then its ADD REGIONs); Terraform refuses to apply a file that says otherwise."
  type        = list(string)
  default     = ["us-east", "eu-west", "ap-south"]

  validation {
    condition     = length(var.overlay_regions) >= 3 && length(distinct(var.overlay_regions)) == length(var.overlay_regions)
    error_message = "overlay_regions must list at least 3 distinct regions (SURVIVE REGION FAILURE needs 3)."
  }
}

variable "overlay_sql_url" {
  description = "Admin SQL URL the Terraform machine reaches the cluster at, for the overlay (e.g. through `kubectl port-forward svc/cockroachdb-public 26257` or the managed service's address), with root or an admin user's certificates. Required with apply_overlay."
  type        = string
  default     = null
  sensitive   = true
}

variable "cockroach_binary" {
  description = "The `cockroach` CLI on the machine running Terraform (for the overlay)."
  type        = string
  default     = "cockroach"
}
