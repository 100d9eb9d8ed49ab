# Renders an origin host's cloud-init: the application (a demo nginx unless demo_app = false) and
# sluice agent, which needs no token and no capability; its endpoints are served over HTTPS with the
# host's certificate, to clients with a certificate from the sluice CA (Prometheus).

locals {
  deploy_dir = "${path.module}/../../../deploy"

  agent_config = templatefile("${path.module}/templates/agent.yaml.tftpl", {
    node          = var.name
    private_ip    = var.private_ip
    agent_port    = var.agent_port
    service_ports = var.service_ports
    upstreams     = []
    poll_interval = var.poll_interval
    min_samples   = var.min_samples
  })

  install_argv = concat(
    ["/usr/local/sbin/sluice-install", "--package", var.sluice_package, "--roles", "agent", "--node-version", var.node_version],
    var.sluice_package_sha256 == "" ? [] : ["--sha256", var.sluice_package_sha256],
  )

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    install_script = file("${local.deploy_dir}/install.sh")
    install_argv   = local.install_argv
    agent_config   = local.agent_config
    tls_ca_pem     = var.tls.ca_pem
    tls_cert_pem   = var.tls.cert_pem
    tls_key_pem    = var.tls.key_pem
    demo_app       = var.demo_app
    demo_page      = "<!doctype html><title>${var.name}</title><h1>origin ${var.name} (${var.region})</h1>\n"
    demo_site      = "server {\n  listen ${var.service_ports[0]} default_server;\n  root /var/www/html;\n  keepalive_timeout 0;\n  location / { add_header X-Sluice-Origin ${var.name} always; }\n}\n"
  })
}
