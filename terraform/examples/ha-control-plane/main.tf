# N control-plane replicas on one PostgreSQL: each runs the whole API, health checks, sluice dns and
# a scheduler loop; the scheduler lease (fenced by its epoch) makes one of them decide at a time.
# Each replica's sluice dns follows every replica's API, so any replica may fail.

locals {
  replica_names = [for i, ip in var.replica_ips : "sluice-cp-${i + 1}"]
  api_urls      = [for ip in var.replica_ips : "https://${ip}:${var.api_port}"]
}

# One certificate per replica (its address in subjectAltName, OU sluice-read: each replica's sluice
# dns long-polls every replica with it). hashicorp/tls, keys in state; or pass your own CA's.
module "pki" {
  source = "../../modules/sluice-pki"

  hosts = { for i, ip in var.replica_ips : local.replica_names[i] => { ip_addresses = [ip] } }
}

module "control_plane_replica" {
  source = "../../modules/sluice-control-plane"
  count  = length(var.replica_ips)

  name               = local.replica_names[count.index]
  replica_id         = local.replica_names[count.index]
  private_ip         = var.replica_ips[count.index]
  api_port           = var.api_port
  sluice_package     = var.sluice_package
  admin_token        = var.admin_token
  read_token         = var.read_token
  dns_zone           = var.dns_zone
  control_plane_urls = local.api_urls
  tls                = module.pki.tls[local.replica_names[count.index]]
  postgres = {
    url       = var.postgres_url
    password  = var.postgres_password
    pool_size = 10
    ssl_mode  = var.postgres_ca_pem == "" ? "require" : "verify-full"
    ca_pem    = var.postgres_ca_pem
  }
}
