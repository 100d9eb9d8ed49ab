# Renders the control plane host's cloud-init: sluice control-plane + sluice dns + Prometheus with
# sluice's scrape config, recording and alert rules (the files under deploy/, so what promtool
# checks is what runs). The VM itself is created by the caller (see modules/azure-linux-vm).

locals {
  deploy_dir    = "${path.module}/../../../deploy"
  api_url       = "https://${var.private_ip}:${var.api_port}"
  geo_locations = [for m in var.geo_cidr_mappings : { cidr = m.cidr, location = { lat = m.lat, lon = m.lon } }]

  postgres = var.postgres == null ? null : {
    url       = var.postgres.url
    pool_size = var.postgres.pool_size
    ssl_mode  = var.postgres.ssl_mode
    has_ca    = var.postgres.ca_pem != ""
  }

  control_plane_config = templatefile("${path.module}/templates/control-plane.yaml.tftpl", {
    replica_id          = var.replica_id == "" ? var.name : var.replica_id
    postgres            = local.postgres
    api_port            = var.api_port
    admin_token_sha256  = sha256(var.admin_token)
    read_token_sha256   = sha256(var.read_token)
    report_token_sha256 = var.report_token == "" ? "" : sha256(var.report_token)
    scheduler_interval  = var.scheduler_interval
    use_recording_rules = var.use_recording_rules
    geo_cidr_mappings   = local.geo_locations
  })

  dns_config = templatefile("${path.module}/templates/dns.yaml.tftpl", {
    private_ip         = var.private_ip
    dns_port           = var.dns_port
    control_plane_urls = length(var.control_plane_urls) > 0 ? var.control_plane_urls : [local.api_url]
    dns_zone           = var.dns_zone
    nameserver         = "ns1.${var.dns_zone}"
    dns_cidr_mappings  = concat(local.geo_locations, var.dns_cidr_mappings)
  })

  install_argv = concat(
    ["/usr/local/sbin/sluice-install", "--package", var.sluice_package, "--roles", "control-plane,dns", "--node-version", var.node_version],
    var.sluice_package_sha256 == "" ? [] : ["--sha256", var.sluice_package_sha256],
  )

  # Only with a bootstrap topology: it is where the capacities come from.
  capacity_rules = var.bootstrap == null ? "" : templatefile("${path.module}/templates/capacity-rules.yml.tftpl", {
    load_balancer = var.bootstrap.load_balancer.name
    origins       = [for o in var.bootstrap.origins : { name = o.name, target_rps = o.target_rps, max_rps = o.max_rps }]
  })

  # Prometheus scrapes this host's API and DNS metrics over HTTPS, at private_ip (what its
  # certificate carries), not at 127.0.0.1.
  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    install_script             = file("${local.deploy_dir}/install.sh")
    install_argv               = local.install_argv
    api_url                    = local.api_url
    control_plane_config       = local.control_plane_config
    dns_config                 = local.dns_config
    read_token                 = var.read_token
    admin_token                = var.admin_token
    tls_ca_pem                 = var.tls.ca_pem
    tls_cert_pem               = var.tls.cert_pem
    tls_key_pem                = var.tls.key_pem
    postgres_password          = var.postgres == null ? "" : var.postgres.password
    postgres_ca_pem            = var.postgres == null ? "" : var.postgres.ca_pem
    prometheus_args            = "ARGS=\"--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=${var.prometheus_retention}\"\n"
    prometheus_config          = file("${local.deploy_dir}/prometheus/prometheus.yml")
    prometheus_recording_rules = file("${local.deploy_dir}/prometheus/rules/sluice-recording.yml")
    prometheus_alert_rules     = file("${local.deploy_dir}/prometheus/rules/sluice-alerts.yml")
    prometheus_capacity_rules  = local.capacity_rules
    control_plane_targets      = jsonencode([{ targets = ["${var.private_ip}:${var.api_port}"], labels = { host = var.name } }])
    dns_targets                = jsonencode([{ targets = ["${var.private_ip}:9153"], labels = { host = var.name } }])
    agent_targets              = jsonencode([for t in var.agent_targets : { targets = [t], labels = {} }])
    edge_sync_targets          = jsonencode([for t in var.edge_sync_targets : { targets = [t], labels = {} }])
    bootstrap_script           = file("${local.deploy_dir}/bootstrap-topology.sh")
    bootstrap_topology         = var.bootstrap == null ? "" : jsonencode(var.bootstrap)
  })
}
