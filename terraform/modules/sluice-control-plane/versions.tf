terraform {
  # No provider: this module only renders cloud-init (templatefile), so it works with any cloud's
  # VM resource (azurerm custom_data, aws user_data, google metadata user-data).
  required_version = ">= 1.5.0, < 2.0.0"
}
