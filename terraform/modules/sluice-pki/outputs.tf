output "ca_pem" {
  description = "The CA certificate (PEM): what clients of sluice (operators' curl --cacert) trust."
  value       = tls_self_signed_cert.ca.cert_pem
}

output "tls" {
  description = "Per host, the object the sluice role modules take as `tls`: CA, certificate and private key (PEM)."
  value = {
    for name, _ in var.hosts : name => {
      ca_pem   = tls_self_signed_cert.ca.cert_pem
      cert_pem = tls_locally_signed_cert.host[name].cert_pem
      key_pem  = tls_private_key.host[name].private_key_pem
    }
  }
  sensitive = true
}
