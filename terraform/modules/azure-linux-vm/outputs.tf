output "id" {
  description = "VM resource id."
  value       = azurerm_linux_virtual_machine.this.id
}

output "private_ip" {
  description = "Static private address."
  value       = azurerm_network_interface.this.private_ip_address
}

output "public_ip" {
  description = "Static public address (null without public_ip)."
  value       = var.public_ip ? azurerm_public_ip.this[0].ip_address : null
}
