# One region of the platform: the paycenter chart in the region's Kubernetes cluster (the
# helm and kubernetes providers passed in are that cluster's), plus the Secrets it names.

locals {
  chart_path   = var.chart_path != "" ? var.chart_path : abspath("${path.module}/../../../helm/paycenter")
  release_name = var.release_name != "" ? var.release_name : "paycenter-${var.region}"
  values_files = length(var.values_files) > 0 ? var.values_files : ["${local.chart_path}/values-${var.region}.yaml"]

  # What the values files say, for the checks below.
  file_values = [for f in local.values_files : yamldecode(file(f))]
  file_region = try([for v in local.file_values : v.region if try(v.region, "") != ""][0], "")

  # Which optional Secrets Terraform creates. The variables are sensitive, so only these
  # yes/no answers are unmarked (count cannot use sensitive values).
  has_db_tls        = var.manage_secrets && nonsensitive(length(var.database_tls_files) > 0)
  has_card_acquirer = var.manage_secrets && nonsensitive(var.card_acquirer_key != "")
  has_acquirer2     = var.manage_secrets && nonsensitive(var.card_acquirer2_key != "")
  has_channel_keys  = var.manage_secrets && nonsensitive(var.channel_signing_key_pem != "")
  has_consul_token  = var.manage_secrets && nonsensitive(var.consul_acl_token != "")

  # Values Terraform adds on top of the files, as YAML documents ("" when not needed, so that
  # every conditional has one type). When Terraform creates a Secret it also tells the chart
  # its name.
  value_layers = compact([
    var.manage_secrets ? yamlencode({
      database = { urlSecret = { name = var.secret_names.database } }
      secrets = {
        adminToken = { name = var.secret_names.admin_token }
        secretKey  = { name = var.secret_names.node_secret }
      }
    }) : "",
    local.has_db_tls ? yamlencode({ database = { tlsSecret = var.secret_names.database_tls } }) : "",
    local.has_card_acquirer ? yamlencode({ channels = { cardAcquirer = { keySecret = { name = var.secret_names.card_acquirer } } } }) : "",
    local.has_acquirer2 ? yamlencode({ channels = { cardAcquirer2 = { keySecret = { name = var.secret_names.card_acquirer2 } } } }) : "",
    local.has_channel_keys ? yamlencode({ channels = { keysSecret = { name = var.secret_names.channel_keys } } }) : "",
    local.has_consul_token ? yamlencode({ consul = { aclTokenSecret = { name = var.secret_names.consul_token } } }) : "",
    yamlencode(var.extra_values),
    var.image_tag != "" ? yamlencode({ image = { tag = var.image_tag } }) : "",
    var.endpoint_public_url != "" ? yamlencode({ endpoint = { publicURL = var.endpoint_public_url } }) : "",
    yamlencode({ region = var.region }),
  ])

  # The three Secrets payd cannot start without. Names are plain strings, so for_each does
  # not depend on the sensitive values.
  required_secrets = var.manage_secrets ? [var.secret_names.database, var.secret_names.admin_token, var.secret_names.node_secret] : []
  secret_data = {
    (var.secret_names.database)    = { url = var.database_url }
    (var.secret_names.admin_token) = { token = var.admin_token }
    (var.secret_names.node_secret) = { "secret-key" = var.node_secret_key }
  }
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of" = "paycenter"
      "paycenter.io/region"       = var.region
    }
  }
}

# Secrets the chart reads through secretKeyRef and Secret volumes. Their values live in
# Terraform state: keep the state in an encrypted backend, or set manage_secrets = false.
resource "kubernetes_secret_v1" "required" {
  for_each = toset(local.required_secrets)

  metadata {
    name      = each.key
    namespace = var.namespace
  }
  data = local.secret_data[each.key]

  lifecycle {
    precondition {
      condition     = var.database_url != null && var.admin_token != null && var.node_secret_key != null
      error_message = "manage_secrets needs database_url, admin_token and node_secret_key."
    }
  }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "database_tls" {
  count = local.has_db_tls ? 1 : 0

  metadata {
    name      = var.secret_names.database_tls
    namespace = var.namespace
  }
  data = var.database_tls_files

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "card_acquirer" {
  count = local.has_card_acquirer ? 1 : 0

  metadata {
    name      = var.secret_names.card_acquirer
    namespace = var.namespace
  }
  data = { "api-key" = var.card_acquirer_key }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "card_acquirer2" {
  count = local.has_acquirer2 ? 1 : 0

  metadata {
    name      = var.secret_names.card_acquirer2
    namespace = var.namespace
  }
  data = { "api-key" = var.card_acquirer2_key }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "channel_keys" {
  count = local.has_channel_keys ? 1 : 0

  metadata {
    name      = var.secret_names.channel_keys
    namespace = var.namespace
  }
  data = {
    "channel-key.pem"       = var.channel_signing_key_pem
    "channelsim-public.pem" = var.channel_public_key_pem
  }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "consul_token" {
  count = local.has_consul_token ? 1 : 0

  metadata {
    name      = var.secret_names.consul_token
    namespace = var.namespace
  }
  data = { token = var.consul_acl_token }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "helm_release" "paycenter" {
  name      = local.release_name
  chart     = local.chart_path
  namespace = var.namespace

  # The chart's values.yaml, then the region's files, then what Terraform knows.
  values = concat([for f in local.values_files : file(f)], local.value_layers)

  # payd migrate runs as a pre-install/pre-upgrade hook inside this wait.
  wait            = true
  wait_for_jobs   = true
  timeout         = var.timeout_seconds
  atomic          = var.atomic
  cleanup_on_fail = true
  max_history     = 10

  lifecycle {
    precondition {
      condition     = local.file_region == "" || local.file_region == var.region
      error_message = "The values files are for region \"${local.file_region}\", not \"${var.region}\"."
    }
  }

  depends_on = [
    kubernetes_namespace_v1.this,
    kubernetes_secret_v1.required,
    kubernetes_secret_v1.database_tls,
    kubernetes_secret_v1.card_acquirer,
    kubernetes_secret_v1.card_acquirer2,
    kubernetes_secret_v1.channel_keys,
    kubernetes_secret_v1.consul_token,
  ]
}

# The regional endpoint's load balancer, for DNS (modules/dns). With an Ingress endpoint
# (payedge.service.type ClusterIP) read the Ingress's address instead.
data "kubernetes_service_v1" "payedge" {
  metadata {
    name      = "${local.release_name}-payedge"
    namespace = var.namespace
  }

  depends_on = [helm_release.paycenter]
}

data "kubernetes_ingress_v1" "payedge" {
  count = local.endpoint_is_ingress ? 1 : 0

  metadata {
    name      = "${local.release_name}-payedge"
    namespace = var.namespace
  }

  depends_on = [helm_release.paycenter]
}

locals {
  endpoint_is_ingress = anytrue([for v in concat(local.file_values, [var.extra_values]) : try(v.payedge.ingress.enabled, false)])

  lb_hostname = (local.endpoint_is_ingress ?
    try(data.kubernetes_ingress_v1.payedge[0].status[0].load_balancer[0].ingress[0].hostname, "") :
  try(data.kubernetes_service_v1.payedge.status[0].load_balancer[0].ingress[0].hostname, ""))
  lb_ip = (local.endpoint_is_ingress ?
    try(data.kubernetes_ingress_v1.payedge[0].status[0].load_balancer[0].ingress[0].ip, "") :
  try(data.kubernetes_service_v1.payedge.status[0].load_balancer[0].ingress[0].ip, ""))
  lb_address = coalesce(local.lb_hostname, local.lb_ip, "pending")
}
