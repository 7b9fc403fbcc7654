output "regional_urls" {
  description = "Each region's endpoint URL (https://<region>.<domain>), to pass as modules/region endpoint_public_url and to give merchants, nearest first for them."
  value       = { for r, e in var.endpoints : r => "https://${r}.${var.domain}" }
}

output "global_url" {
  description = "The latency-routed URL (https://<global_name>.<domain>), or null without global_name."
  value       = var.global_name != "" ? "https://${var.global_name}.${var.domain}" : null
}

output "health_check_ids" {
  description = "Route 53 health check ID of each region's endpoint (alarm on them, e.g. with CloudWatch)."
  value       = { for r, hc in aws_route53_health_check.endpoint : r => hc.id }
}
