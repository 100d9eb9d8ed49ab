output "control_plane_public_ip" {
  description = "SSH and API (from admin_cidrs) of the control plane."
  value       = module.control_plane_vm.public_ip
}

output "control_plane_private_ip" {
  description = "Where sluice dns (port 53) and the API (port 8080) answer inside the VNets."
  value       = module.control_plane_vm.private_ip
}

output "origin_ips" {
  description = "Origins: private (what DNS answers) and public (SSH) addresses."
  value       = { for k, vm in module.origin_vm : k => { private = vm.private_ip, public = vm.public_ip } }
}

output "traffic_generator_public_ips" {
  description = "SSH to these to act as clients in East US and Southeast Asia."
  value       = { for k, vm in module.traffic_vm : k => vm.public_ip }
}

output "edge_ips" {
  description = "The HAProxy edge (enable_edge = true)."
  value       = [for vm in module.edge_vm : { private = vm.private_ip, public = vm.public_ip }]
}

output "ca_pem" {
  description = "The sluice CA certificate: save it (terraform output -raw ca_pem > sluice-ca.pem) for curl --cacert."
  value       = module.pki.ca_pem
}

output "try_these" {
  description = "Commands to try once cloud-init has finished (3-5 minutes after apply)."
  value = {
    check_from_east_us     = "ssh azureuser@${module.traffic_vm["traffic-eus"].public_ip} test-cluster"
    traffic_from_east_us   = "ssh azureuser@${module.traffic_vm["traffic-eus"].public_ip} generate-traffic 5 300"
    traffic_from_singapore = "ssh azureuser@${module.traffic_vm["traffic-sea"].public_ip} generate-traffic 5 300"
    dig_from_east_us       = "ssh azureuser@${module.traffic_vm["traffic-eus"].public_ip} dig @${local.cp_ip} app.${var.dns_zone} A +short"
    dig_from_singapore     = "ssh azureuser@${module.traffic_vm["traffic-sea"].public_ip} dig @${local.cp_ip} app.${var.dns_zone} A +short"
    save_ca                = "terraform output -raw ca_pem > sluice-ca.pem   # the API is HTTPS; its certificate names the private address, so curl connects to the public one (--connect-to)"
    learned_latency        = "curl -s -H \"Authorization: Bearer $TF_VAR_read_token\" --cacert sluice-ca.pem --connect-to ${local.cp_ip}:8080:${module.control_plane_vm.public_ip}:8080 https://${local.cp_ip}:8080/api/v1/latency | jq ."
    decisions              = "curl -s -H \"Authorization: Bearer $TF_VAR_read_token\" --cacert sluice-ca.pem --connect-to ${local.cp_ip}:8080:${module.control_plane_vm.public_ip}:8080 'https://${local.cp_ip}:8080/api/v1/decisions?limit=5' | jq ."
    dns_view               = "curl -s -H \"Authorization: Bearer $TF_VAR_read_token\" --cacert sluice-ca.pem --connect-to ${local.cp_ip}:8080:${module.control_plane_vm.public_ip}:8080 https://${local.cp_ip}:8080/api/v1/dns/view | jq ."
    prometheus_tunnel      = "ssh -L 9090:127.0.0.1:9090 azureuser@${module.control_plane_vm.public_ip}   # then open http://127.0.0.1:9090/alerts"
    logs                   = "ssh azureuser@${module.control_plane_vm.public_ip} journalctl -u sluice-control-plane -u sluice-dns -f"
  }
}
