# The platform's database for one region: CockroachDB nodes in this region's cluster
# (self_hosted, from the cockroachdb chart, joined to every other region's), or nothing at all
# (external: a managed cluster). In one call, apply_overlay applies
# deploy/cockroachdb/multiregion.sql after the schema migrations.

locals {
  self_hosted  = var.mode == "self_hosted"
  sql_host     = "${var.release_name}-public.${var.namespace}.svc.cluster.local"
  overlay_file = var.overlay_file != "" ? var.overlay_file : abspath("${path.module}/../../../cockroachdb/multiregion.sql")

  # The regions the overlay file adds, in its order: PRIMARY REGION first, then ADD REGIONs.
  overlay_text    = file(local.overlay_file)
  overlay_primary = flatten(regexall("SET PRIMARY REGION \"([a-z0-9-]+)\"", local.overlay_text))
  overlay_added   = flatten(regexall("ADD REGION \"([a-z0-9-]+)\"", local.overlay_text))
  overlay_regions = concat(local.overlay_primary, local.overlay_added)

  # payd reads the client certificate files from the Secret the chart mounts at
  # /etc/paycenter/db-tls (chart value database.tlsSecret).
  self_hosted_url = "postgresql://${var.sql_user}@${local.sql_host}:26257/${var.database_name}?sslmode=verify-full&sslrootcert=/etc/paycenter/db-tls/ca.crt&sslcert=/etc/paycenter/db-tls/client.${var.sql_user}.crt&sslkey=/etc/paycenter/db-tls/client.${var.sql_user}.key"

  chart_values = {
    conf = {
      locality       = "region=${var.region}"
      join           = var.join_addresses
      "cluster-name" = var.cluster_name
    }
    statefulset = {
      replicas = var.replicas
    }
    storage = {
      persistentVolume = {
        size         = var.storage_size
        storageClass = var.storage_class
      }
    }
    tls = {
      enabled = true
      certs = {
        provided         = true
        nodeSecret       = var.tls_node_secret
        clientRootSecret = var.tls_client_root_secret
        selfSigner       = { enabled = false }
      }
    }
    init = {
      provisioning = {
        enabled   = var.provision_database
        databases = [{ name = var.database_name, owners = [var.sql_user] }]
        users     = [{ name = var.sql_user, options = ["LOGIN"] }]
      }
    }
  }
}

resource "helm_release" "cockroachdb" {
  count = local.self_hosted ? 1 : 0

  name             = var.release_name
  repository       = var.chart_repository
  chart            = "cockroachdb"
  version          = var.chart_version
  namespace        = var.namespace
  create_namespace = true
  values           = [yamlencode(local.chart_values)]
  wait             = true
  timeout          = 1200

  lifecycle {
    precondition {
      condition     = length(var.join_addresses) >= 3
      error_message = "self_hosted needs join_addresses: nodes of every region, reachable from this cluster."
    }
  }
}

# The overlay, once, after the migrations (var.schema_ready). It is not idempotent (ADD REGION
# and ADD COLUMN fail the second time), so it is not re-run when the file changes: new overlay
# lines are applied by hand (docs/runbooks/cockroachdb-overlay.md).
resource "terraform_data" "overlay" {
  count = var.apply_overlay ? 1 : 0

  input = var.schema_ready

  provisioner "local-exec" {
    command = "${var.cockroach_binary} sql --url \"$OVERLAY_SQL_URL\" --file \"${local.overlay_file}\""
    environment = {
      OVERLAY_SQL_URL = var.overlay_sql_url
    }
  }

  lifecycle {
    precondition {
      condition     = var.overlay_sql_url != null
      error_message = "apply_overlay needs overlay_sql_url."
    }
    precondition {
      condition     = join(",", local.overlay_regions) == join(",", var.overlay_regions)
      error_message = "The overlay file adds regions ${join(", ", local.overlay_regions)}, but overlay_regions is ${join(", ", var.overlay_regions)}: edit the file's region list (deploy/cockroachdb/README.md) or the variable."
    }
    precondition {
      condition     = var.schema_ready != ""
      error_message = "apply_overlay needs schema_ready: the overlay alters tables that payd migrate creates."
    }
  }

  depends_on = [helm_release.cockroachdb]
}
