output "cloud_init" {
  description = "cloud-init user data (#cloud-config) for the control plane VM. Contains the read token and the admin token: pass it only to the VM (it is stored in state: keep state encrypted)."
  value       = local.cloud_init
  sensitive   = true
}

output "api_url" {
  description = "Base URL of the API on the host's private address."
  value       = local.api_url
}

output "dns_address" {
  description = "Where sluice dns answers (HOST:PORT)."
  value       = "${var.private_ip}:${var.dns_port}"
}

output "inbound_ports" {
  description = "Ports this role needs open: the API to operators, edges and DNS servers; DNS to clients (Prometheus stays on 127.0.0.1)."
  value = [
    { name = "sluice-api", port = var.api_port, protocol = "Tcp", scope = "operators" },
    { name = "sluice-dns-udp", port = var.dns_port, protocol = "Udp", scope = "clients" },
    { name = "sluice-dns-tcp", port = var.dns_port, protocol = "Tcp", scope = "clients" },
  ]
}

output "control_plane_config" {
  description = "The rendered /etc/sluice/control-plane.yaml. It holds token hashes only, but terraform treats values derived from sensitive inputs as sensitive."
  value       = local.control_plane_config
  sensitive   = true
}
