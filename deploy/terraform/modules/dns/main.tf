# DNS for the regional endpoints in Route 53 (the project's AWS example; any provider with
# health-checked failover and latency or geo routing can do the same):
#
#   <region>.<domain>   each region's endpoint, the address merchants and channels call there.
#                       With failover_to, a failover pair: the region's own load balancer while
#                       its health check passes, else the failover region's.
#   <global>.<domain>   latency-based: the nearest region whose health check passes.
#
# Endpoint TLS certificates must name every host that can resolve to them: a failover or
# global name lands on another region's load balancer (e.g. a *.pay.example.com certificate).

locals {
  failover = { for r, e in var.endpoints : r => e if e.failover_to != null }
  simple   = { for r, e in var.endpoints : r => e if e.failover_to == null }
}

resource "aws_route53_health_check" "endpoint" {
  for_each = var.endpoints

  fqdn              = each.value.target
  port              = var.health_check_port
  type              = "HTTPS"
  resource_path     = var.health_check_path
  enable_sni        = true
  failure_threshold = 3
  request_interval  = 10

  tags = {
    Name                  = "paycenter-${each.key}"
    "paycenter.io/region" = each.key
  }
}

resource "aws_route53_record" "regional" {
  for_each = local.simple

  zone_id = var.zone_id
  name    = "${each.key}.${var.domain}"
  type    = "CNAME"
  ttl     = var.ttl
  records = [each.value.target]
}

resource "aws_route53_record" "regional_primary" {
  for_each = local.failover

  zone_id         = var.zone_id
  name            = "${each.key}.${var.domain}"
  type            = "CNAME"
  ttl             = var.ttl
  records         = [each.value.target]
  set_identifier  = "${each.key}-primary"
  health_check_id = aws_route53_health_check.endpoint[each.key].id

  failover_routing_policy {
    type = "PRIMARY"
  }
}

resource "aws_route53_record" "regional_secondary" {
  for_each = local.failover

  zone_id         = var.zone_id
  name            = "${each.key}.${var.domain}"
  type            = "CNAME"
  ttl             = var.ttl
  records         = [var.endpoints[each.value.failover_to].target]
  set_identifier  = "${each.key}-secondary"
  health_check_id = aws_route53_health_check.endpoint[each.value.failover_to].id

  failover_routing_policy {
    type = "SECONDARY"
  }
}

resource "aws_route53_record" "global" {
  for_each = var.global_name != "" ? var.endpoints : {}

  zone_id         = var.zone_id
  name            = "${var.global_name}.${var.domain}"
  type            = "CNAME"
  ttl             = var.ttl
  records         = [each.value.target]
  set_identifier  = each.key
  health_check_id = aws_route53_health_check.endpoint[each.key].id

  latency_routing_policy {
    region = each.value.aws_region
  }
}
