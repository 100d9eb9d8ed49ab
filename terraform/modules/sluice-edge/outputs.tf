output "cloud_init" {
  description = "cloud-init user data (#cloud-config) for the edge VM. Contains the read token and the host's private key: it is stored in state, keep state encrypted."
  value       = local.cloud_init
  sensitive   = true
}

output "agent_target" {
  description = "HOST:PORT of the agent, for Prometheus."
  value       = "${var.private_ip}:${var.agent_port}"
}

output "edge_sync_target" {
  description = "HOST:PORT of edge-sync's metrics, for Prometheus."
  value       = "${var.private_ip}:${var.metrics_port}"
}

output "inbound_ports" {
  description = "Ports this role needs open: the listeners to clients, agent and edge-sync metrics to Prometheus only."
  value = concat(
    [for l in var.listeners : { name = "listener-${l.port}", port = l.port, protocol = "Tcp", scope = "clients" }],
    [
      { name = "sluice-agent", port = var.agent_port, protocol = "Tcp", scope = "monitoring" },
      { name = "sluice-edge-sync", port = var.metrics_port, protocol = "Tcp", scope = "monitoring" },
    ],
  )
}

output "edge_sync_config" {
  description = "The rendered /etc/sluice/edge-sync.yaml (edge_id is a placeholder when it is resolved at boot)."
  value       = local.edge_sync_config
}
