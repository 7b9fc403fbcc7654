output "datacenter" {
  description = "This region's Consul datacenter."
  value       = var.datacenter
}

output "is_primary" {
  description = "Whether this datacenter is the federation's primary."
  value       = local.primary
}

output "federation_secret" {
  description = "Primary only: the federation Secret's data, for every secondary's federation_secret (null on secondaries)."
  value       = local.primary ? data.kubernetes_secret_v1.federation[0].data : null
  sensitive   = true
}

output "agent_http_port" {
  description = "HTTP port of the client agents on every node (the chart's consul.port; payd uses $(HOST_IP):<port>)."
  value       = 8500
}

output "server_service" {
  description = "In-cluster DNS name of the Consul servers' Service (for `kubectl port-forward` and payctl -consul-addr)."
  value       = "${var.release_name}-server.${var.namespace}.svc.cluster.local"
}

output "release_status" {
  description = "Status of the Consul release (deployed once every server and agent is ready)."
  value       = helm_release.consul.status
}
