variable "name" {
  description = "VM name (also the computer name and the prefix of its NIC, public IP and NSG)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group to create the VM's resources in."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. eastus."
  type        = string
}

variable "subnet_id" {
  description = "Subnet of the VM's NIC."
  type        = string
}

variable "private_ip" {
  description = "Static private address inside the subnet (configs and peers refer to it)."
  type        = string
}

variable "vm_size" {
  description = "Azure VM size (e.g. Standard_B2s)."
  type        = string
  default     = "Standard_B2s"
}

variable "admin_username" {
  description = "Login user (SSH key only, password authentication disabled)."
  type        = string
  default     = "azureuser"
}

variable "ssh_public_key" {
  description = "OpenSSH public key for admin_username."
  type        = string
}

# Sent gzipped: the control plane's cloud-init (alert rules, PKI, install script) outgrows 64 KiB of
# base64 as plain text; cloud-init recognises gzipped user data and decompresses it.
variable "custom_data" {
  description = "cloud-init user data (plain text; gzip-compressed and base64-encoded here: cloud-init decompresses gzipped user data). Azure limits it to 64 KiB encoded."
  type        = string
  sensitive   = true

  validation {
    condition     = length(base64gzip(var.custom_data)) <= 65535
    error_message = "custom_data is larger than Azure's 64 KiB limit even gzipped (base64)."
  }
}

variable "public_ip" {
  description = "Give the VM a static Standard public IP (for SSH and for clients of public services)."
  type        = bool
  default     = true
}

variable "inbound_rules" {
  description = "Inbound rules of the VM's NSG: one per port and protocol (Tcp or Udp), from the listed source prefixes. Everything else inbound is denied, including from peered VNets."
  type = list(object({
    name         = string
    port         = number
    protocol     = string
    source_cidrs = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.inbound_rules : contains(["Tcp", "Udp"], r.protocol) && length(r.source_cidrs) > 0])
    error_message = "each inbound rule needs protocol Tcp or Udp and at least one source CIDR."
  }
}

variable "image" {
  description = "Marketplace image (Ubuntu 24.04 LTS by default: cloud-init, systemd 255)."
  type = object({
    publisher = string
    offer     = string
    sku       = string
    version   = string
  })
  default = {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "server"
    version   = "latest"
  }
}

variable "os_disk_type" {
  description = "Managed disk type of the OS disk."
  type        = string
  default     = "StandardSSD_LRS"
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
