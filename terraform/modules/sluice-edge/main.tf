# Renders an edge host's cloud-init: the data plane (HAProxy, or LVS/IPVS), sluice edge-sync applying
# the control plane's weights to it, and sluice agent measuring edge -> origin RTT.

locals {
  deploy_dir = "${path.module}/../../../deploy"

  agent_config = templatefile("${path.module}/../sluice-origin/templates/agent.yaml.tftpl", {
    node          = var.name
    private_ip    = var.private_ip
    agent_port    = var.agent_port
    service_ports = [for l in var.listeners : l.port]
    upstreams     = var.upstreams
    poll_interval = "5s"
    min_samples   = 5
  })

  edge_sync_config = templatefile("${path.module}/templates/edge-sync.yaml.tftpl", {
    name         = var.name
    api_url      = var.api_url
    edge_id      = var.edge_id == "" ? "unresolved-${var.name}" : var.edge_id
    dataplane    = var.dataplane
    private_ip   = var.private_ip
    metrics_port = var.metrics_port
  })

  haproxy_config = templatefile("${path.module}/templates/haproxy.cfg.tftpl", {
    load_balancer = var.load_balancer
    listeners     = var.listeners
  })

  install_argv = concat(
    ["/usr/local/sbin/sluice-install", "--package", var.sluice_package, "--roles", "agent,edge-sync", "--edge-dataplane", var.dataplane, "--node-version", var.node_version],
    var.sluice_package_sha256 == "" ? [] : ["--sha256", var.sluice_package_sha256],
  )

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    install_script   = file("${local.deploy_dir}/install.sh")
    resolve_script   = file("${local.deploy_dir}/resolve-edge-id.sh")
    install_argv     = local.install_argv
    agent_config     = local.agent_config
    edge_sync_config = local.edge_sync_config
    haproxy_config   = local.haproxy_config
    edge_token       = var.report_token != "" ? var.report_token : var.read_token
    tls_ca_pem       = var.tls.ca_pem
    tls_cert_pem     = var.tls.cert_pem
    tls_key_pem      = var.tls.key_pem
    dataplane        = var.dataplane
    api_url          = var.api_url
    name             = var.name
    resolve_edge_id  = var.edge_id == ""
  })
}
