output "cloud_init" {
  description = "cloud-init user data (#cloud-config) for the origin VM. Contains the host's private key (var.tls): pass it only to the VM, keep state encrypted."
  value       = local.cloud_init
  sensitive   = true
}

output "agent_target" {
  description = "HOST:PORT Prometheus scrapes (over HTTPS, with a client certificate)."
  value       = "${var.private_ip}:${var.agent_port}"
}

output "inbound_ports" {
  description = "Ports this role needs open: the application's to clients, the agent's to Prometheus only."
  value = concat(
    [for p in var.service_ports : { name = "app-${p}", port = p, protocol = "Tcp", scope = "clients" }],
    [{ name = "sluice-agent", port = var.agent_port, protocol = "Tcp", scope = "monitoring" }],
  )
}

output "agent_config" {
  description = "The rendered /etc/sluice/agent.yaml."
  value       = local.agent_config
}
