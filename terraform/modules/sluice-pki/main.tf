# A small PKI for sluice with the hashicorp/tls provider (no cloud needed): one CA, and per host one
# EC P-256 key and a certificate for both ends of its connections — serverAuth for its listeners
# (control plane API, metrics), clientAuth with the subject OU as its role (docs/TLS.md). The keys end
# up in terraform state: keep state encrypted, or issue certificates with your own CA and pass them
# to the role modules' `tls` input instead.

resource "tls_private_key" "ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_self_signed_cert" "ca" {
  private_key_pem       = tls_private_key.ca.private_key_pem
  is_ca_certificate     = true
  validity_period_hours = var.ca_validity_hours
  allowed_uses          = ["cert_signing", "crl_signing"]

  subject {
    common_name = var.ca_common_name
  }
}

resource "tls_private_key" "host" {
  for_each    = var.hosts
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "host" {
  for_each        = var.hosts
  private_key_pem = tls_private_key.host[each.key].private_key_pem
  ip_addresses    = each.value.ip_addresses
  dns_names       = each.value.dns_names

  subject {
    common_name         = each.key
    organizational_unit = each.value.ou
  }
}

resource "tls_locally_signed_cert" "host" {
  for_each              = var.hosts
  cert_request_pem      = tls_cert_request.host[each.key].cert_request_pem
  ca_private_key_pem    = tls_private_key.ca.private_key_pem
  ca_cert_pem           = tls_self_signed_cert.ca.cert_pem
  validity_period_hours = var.validity_hours
  allowed_uses          = ["digital_signature", "server_auth", "client_auth"]
}
