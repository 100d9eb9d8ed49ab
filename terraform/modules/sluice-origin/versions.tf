terraform {
  # No provider: this module only renders cloud-init (templatefile).
  required_version = ">= 1.5.0, < 2.0.0"
}
