output "cloud_init" {
  description = "cloud-init user data per replica (in replica_ips order). Carries the tokens and the database password: pass each only to its VM."
  value       = module.control_plane_replica[*].cloud_init
  sensitive   = true
}

output "ca_pem" {
  description = "The CA the replicas' certificates chain to: data planes' api.tls.ca_file, operators' curl --cacert."
  value       = module.pki.ca_pem
}

output "api_urls" {
  description = "Every replica's API: give this list to sluice dns and edge-sync as api.urls, and to a load balancer in front of operators."
  value       = local.api_urls
}
