output "endpoints" {
  description = "Each region's endpoint URL: give merchants (and the SDK) these, nearest first."
  value       = module.dns.regional_urls
}

output "global_endpoint" {
  description = "The latency-routed endpoint URL."
  value       = module.dns.global_url
}

output "load_balancers" {
  description = "The load balancer behind each region's endpoint."
  value = {
    "us-east"  = module.region_us_east.endpoint_load_balancer
    "eu-west"  = module.region_eu_west.endpoint_load_balancer
    "ap-south" = module.region_ap_south.endpoint_load_balancer
  }
}

output "release_revisions" {
  description = "Helm revision of each region's paycenter release."
  value = {
    "us-east"  = module.region_us_east.release_revision
    "eu-west"  = module.region_eu_west.release_revision
    "ap-south" = module.region_ap_south.release_revision
  }
}

output "consul_server_services" {
  description = "Consul servers' Service in each region, for `kubectl port-forward` and payctl -consul-addr."
  value = {
    "us-east"  = module.consul_us_east.server_service
    "eu-west"  = module.consul_eu_west.server_service
    "ap-south" = module.consul_ap_south.server_service
  }
}

output "cockroachdb_overlay_regions" {
  description = "The database regions the overlay adds, primary first."
  value       = module.cockroachdb_us_east.overlay_regions
}

output "overlay_applied" {
  description = "ID of the overlay's application (set once it ran)."
  value       = module.cockroachdb_us_east.overlay_applied
}
