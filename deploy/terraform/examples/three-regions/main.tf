# Three regions of the platform, each in its own Kubernetes cluster:
#
#   Consul      one datacenter per region, WAN-federated (us-east primary)
#   CockroachDB one multi-region cluster: nodes in every region (or a managed cluster), the
#               overlay applied once after the first migrations
#   paycenter   the chart per region (migrations hook, payd, payedge), us-east first so that
#               its hook migrates the schema before the other regions' hooks find nothing to do
#   DNS         us-east/eu-west/ap-south.<domain> with failover, api.<domain> by latency

locals {
  regions = ["us-east", "eu-west", "ap-south"]

  # Where each region's endpoint fails over to: its nearest other region
  # (regions.DefaultTopology: us-east-eu-west 40 ms, eu-west-ap-south 70 ms).
  failover_to = {
    "us-east"  = "eu-west"
    "eu-west"  = "us-east"
    "ap-south" = "eu-west"
  }
}

# --- Consul -------------------------------------------------------------------------------

module "consul_us_east" {
  source    = "../../modules/consul"
  providers = { helm = helm.us_east, kubernetes = kubernetes.us_east }

  datacenter         = "us-east"
  primary_datacenter = "us-east"
}

module "consul_eu_west" {
  source    = "../../modules/consul"
  providers = { helm = helm.eu_west, kubernetes = kubernetes.eu_west }

  datacenter         = "eu-west"
  primary_datacenter = "us-east"
  federation_secret  = module.consul_us_east.federation_secret
}

module "consul_ap_south" {
  source    = "../../modules/consul"
  providers = { helm = helm.ap_south, kubernetes = kubernetes.ap_south }

  datacenter         = "ap-south"
  primary_datacenter = "us-east"
  federation_secret  = module.consul_us_east.federation_secret
}

# --- CockroachDB --------------------------------------------------------------------------

module "cockroachdb_us_east" {
  source    = "../../modules/cockroachdb"
  providers = { helm = helm.us_east }

  mode                  = var.cockroachdb_mode
  region                = "us-east"
  join_addresses        = var.cockroachdb_join_addresses
  external_database_url = var.external_database_url
  provision_database    = true

  # The overlay, once, after us-east's release has migrated the schema.
  apply_overlay   = true
  schema_ready    = tostring(module.region_us_east.release_revision)
  overlay_regions = local.regions
  overlay_sql_url = var.cockroachdb_admin_url
}

module "cockroachdb_eu_west" {
  source    = "../../modules/cockroachdb"
  providers = { helm = helm.eu_west }

  mode                  = var.cockroachdb_mode
  region                = "eu-west"
  join_addresses        = var.cockroachdb_join_addresses
  external_database_url = var.external_database_url
}

module "cockroachdb_ap_south" {
  source    = "../../modules/cockroachdb"
  providers = { helm = helm.ap_south }

  mode                  = var.cockroachdb_mode
  region                = "ap-south"
  join_addresses        = var.cockroachdb_join_addresses
  external_database_url = var.external_database_url
}

# --- the platform ---------------------------------------------------------------------------

module "region_us_east" {
  source    = "../../modules/region"
  providers = { helm = helm.us_east, kubernetes = kubernetes.us_east }

  region                  = "us-east"
  image_tag               = var.image_tag
  endpoint_public_url     = "https://us-east.${var.domain}"
  database_url            = module.cockroachdb_us_east.database_url
  database_tls_files      = var.database_tls_files
  admin_token             = var.admin_token
  node_secret_key         = var.node_secret_key
  card_acquirer_key       = var.card_acquirer_key
  channel_signing_key_pem = var.channel_signing_key_pem
  channel_public_key_pem  = var.channel_public_key_pem

  depends_on = [module.consul_us_east]
}

module "region_eu_west" {
  source    = "../../modules/region"
  providers = { helm = helm.eu_west, kubernetes = kubernetes.eu_west }

  region                  = "eu-west"
  image_tag               = var.image_tag
  endpoint_public_url     = "https://eu-west.${var.domain}"
  database_url            = module.cockroachdb_eu_west.database_url
  database_tls_files      = var.database_tls_files
  admin_token             = var.admin_token
  node_secret_key         = var.node_secret_key
  card_acquirer_key       = var.card_acquirer_key
  channel_signing_key_pem = var.channel_signing_key_pem
  channel_public_key_pem  = var.channel_public_key_pem

  # After us-east: one migrations hook at a time.
  depends_on = [module.consul_eu_west, module.region_us_east]
}

module "region_ap_south" {
  source    = "../../modules/region"
  providers = { helm = helm.ap_south, kubernetes = kubernetes.ap_south }

  region                  = "ap-south"
  image_tag               = var.image_tag
  endpoint_public_url     = "https://ap-south.${var.domain}"
  database_url            = module.cockroachdb_ap_south.database_url
  database_tls_files      = var.database_tls_files
  admin_token             = var.admin_token
  node_secret_key         = var.node_secret_key
  card_acquirer_key       = var.card_acquirer_key
  channel_signing_key_pem = var.channel_signing_key_pem
  channel_public_key_pem  = var.channel_public_key_pem

  depends_on = [module.consul_ap_south, module.region_us_east]
}

# --- DNS ------------------------------------------------------------------------------------

module "dns" {
  source = "../../modules/dns"

  zone_id = var.route53_zone_id
  domain  = var.domain
  endpoints = {
    "us-east" = {
      target      = module.region_us_east.endpoint_load_balancer
      aws_region  = var.aws_regions["us-east"]
      failover_to = local.failover_to["us-east"]
    }
    "eu-west" = {
      target      = module.region_eu_west.endpoint_load_balancer
      aws_region  = var.aws_regions["eu-west"]
      failover_to = local.failover_to["eu-west"]
    }
    "ap-south" = {
      target      = module.region_ap_south.endpoint_load_balancer
      aws_region  = var.aws_regions["ap-south"]
      failover_to = local.failover_to["ap-south"]
    }
  }
}
