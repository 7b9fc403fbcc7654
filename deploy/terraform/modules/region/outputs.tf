output "region" {
  description = "The region this release serves."
  value       = var.region
}

output "namespace" {
  description = "Namespace of the release."
  value       = var.namespace
}

output "release_name" {
  description = "Helm release name."
  value       = helm_release.paycenter.name
}

output "release_revision" {
  description = "Helm revision of the release; it changes on every upgrade, after the migrations hook succeeded (modules/cockroachdb waits on it before applying the multi-region overlay)."
  value       = helm_release.paycenter.metadata[0].revision
}

output "endpoint_load_balancer" {
  description = "Hostname (or IP) of the load balancer in front of the regional endpoint, for DNS; \"pending\" until the cloud has assigned it."
  value       = local.lb_address
}

output "payedge_service" {
  description = "In-cluster Service of the regional endpoint (namespace/name)."
  value       = "${var.namespace}/${local.release_name}-payedge"
}

output "payd_service" {
  description = "In-cluster Service of the nodes' API for operators (namespace/name); payctl -endpoint through a port-forward."
  value       = "${var.namespace}/${local.release_name}-payd"
}
