terraform {
  # No provider: this example only renders each replica's cloud-init; give each to a VM of any cloud.
  required_version = ">= 1.5.0, < 2.0.0"
}
