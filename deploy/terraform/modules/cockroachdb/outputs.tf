output "database_url" {
  description = "pgwire URL payd and its migrations use in this region (for modules/region database_url): the external URL, or this region's self-hosted SQL Service with client certificates from /etc/paycenter/db-tls."
  value       = local.self_hosted ? local.self_hosted_url : var.external_database_url
  sensitive   = true
  depends_on  = [helm_release.cockroachdb]
}

output "sql_host" {
  description = "In-cluster host of the SQL Service (self_hosted); null for external."
  value       = local.self_hosted ? local.sql_host : null
}

output "locality" {
  description = "The --locality of this region's nodes; its region must be one of the database's regions."
  value       = "region=${var.region}"
}

output "overlay_regions" {
  description = "The regions the overlay file adds, primary first (as read from the file)."
  value       = local.overlay_regions
}

output "overlay_applied" {
  description = "ID of the overlay application (null where this call does not apply it)."
  value       = var.apply_overlay ? terraform_data.overlay[0].id : null
}
