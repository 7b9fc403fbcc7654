# Consul for one region's Kubernetes cluster: servers for the region's datacenter and client
# agents as a DaemonSet (payd and payedge register through the agent on their node, at
# $(HOST_IP):8500), WAN-federated with the other regions through mesh gateways.
#
# Read docs/runbooks/new-region.md: with one datacenter per region, the catalog and KV are
# per datacenter. payd registers in its own region's datacenter and watches its own drain key
# there, which is what the platform needs; but payedge's router (regions.Router) queries only
# its local datacenter, so cross-region failover at the endpoint does not happen until it asks
# the federated datacenters too (the SDK and DNS fail over across regions instead).

locals {
  primary = var.datacenter == var.primary_datacenter

  federation_secret_name = "${var.release_name}-federation"

  # Values for every datacenter.
  common = {
    global = {
      name       = var.release_name
      datacenter = var.datacenter
      image      = var.consul_image
      tls = {
        enabled           = true
        enableAutoEncrypt = true
        # payd and payedge speak plain HTTP to the agent on their node (hostPort 8500); the
        # HTTPS port 8501 stays available. Gossip and RPC between agents are encrypted.
        httpsOnly = false
      }
      federation = { enabled = true }
      acls       = { manageSystemACLs = var.manage_system_acls }
    }
    server = { replicas = var.server_replicas }
    # Client agents on every node: the agent payd and payedge register with.
    client = {
      enabled = true
      grpc    = true
    }
    # WAN federation between Kubernetes clusters goes through mesh gateways, which need the
    # service mesh's injector (the platform's own pods are not injected: default = false).
    connectInject = {
      enabled = true
      default = false
    }
    meshGateway = {
      enabled  = true
      replicas = 2
      service  = { type = var.mesh_gateway_service_type }
    }
    ui = {
      enabled = true
      service = { type = "ClusterIP" }
    }
  }

  # The primary generates the CA and gossip key and publishes the federation Secret.
  primary_values = {
    global = {
      federation       = { createFederationSecret = true }
      gossipEncryption = { autoGenerate = true }
    }
  }

  # A secondary takes its CA, gossip key and the primary's address from that Secret.
  secondary_values = {
    global = {
      federation = { primaryDatacenter = var.primary_datacenter }
      tls = {
        caCert = { secretName = local.federation_secret_name, secretKey = "caCert" }
        caKey  = { secretName = local.federation_secret_name, secretKey = "caKey" }
      }
      gossipEncryption = { secretName = local.federation_secret_name, secretKey = "gossipEncryptionKey" }
    }
    server = {
      extraVolumes = [{
        type  = "secret"
        name  = local.federation_secret_name
        items = [{ key = "serverConfigJSON", path = "config.json" }]
        load  = true
      }]
    }
  }

  secondary_acl_values = {
    global = {
      federation = { k8sAuthMethodHost = var.k8s_auth_method_host }
      acls       = { replicationToken = { secretName = local.federation_secret_name, secretKey = "replicationToken" } }
    }
  }

  # Helm merges these documents in order (deep merge), so each conditional is a string.
  value_layers = compact([
    yamlencode(local.common),
    local.primary ? yamlencode(local.primary_values) : "",
    local.primary ? "" : yamlencode(local.secondary_values),
    !local.primary && var.manage_system_acls ? yamlencode(local.secondary_acl_values) : "",
  ])
}

resource "kubernetes_namespace_v1" "consul" {
  metadata {
    name = var.namespace
  }
}

# Secondaries: the primary's federation Secret, copied into this cluster before the install.
resource "kubernetes_secret_v1" "federation" {
  count = local.primary ? 0 : 1

  metadata {
    name      = local.federation_secret_name
    namespace = var.namespace
  }
  data = var.federation_secret

  lifecycle {
    precondition {
      condition     = var.federation_secret != null
      error_message = "A secondary datacenter needs federation_secret (the primary call's output)."
    }
  }

  depends_on = [kubernetes_namespace_v1.consul]
}

resource "helm_release" "consul" {
  name       = var.release_name
  repository = var.chart_repository
  chart      = "consul"
  version    = var.chart_version
  namespace  = var.namespace
  values     = local.value_layers
  wait       = true
  timeout    = 900

  depends_on = [kubernetes_namespace_v1.consul, kubernetes_secret_v1.federation]
}

# Primary: the Secret the chart created for the secondaries.
data "kubernetes_secret_v1" "federation" {
  count = local.primary ? 1 : 0

  metadata {
    name      = local.federation_secret_name
    namespace = var.namespace
  }

  depends_on = [helm_release.consul]
}
