terraform {
  # No provider here: this example only renders each replica's cloud-init (give each to a VM of any
  # cloud); modules/sluice-pki brings hashicorp/tls for the replicas' certificates.
  required_version = ">= 1.5.0, < 2.0.0"
}
