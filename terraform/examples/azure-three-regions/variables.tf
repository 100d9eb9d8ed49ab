variable "subscription_id" {
  description = "Azure subscription to deploy into (az account show --query id -o tsv)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group holding everything (delete it to tear down)."
  type        = string
  default     = "rg-sluice-demo"
}

variable "ssh_public_key_path" {
  description = "OpenSSH public key for the azureuser login on every VM."
  type        = string
  default     = "~/.ssh/id_ed25519.pub"
}

variable "admin_cidrs" {
  description = "Where you connect from (SSH to every VM, the API on the control plane), e.g. [\"203.0.113.7/32\"]. No default: nothing is opened to the Internet by accident."
  type        = list(string)
}

variable "sluice_package" {
  description = "The sluice package every VM installs: an https URL of a tarball made by `npm pack`, an npm spec or a git URL (see README)."
  type        = string
}

variable "sluice_package_sha256" {
  description = "SHA-256 of that tarball (sha256sum sluice-0.1.0.tgz); empty: not checked."
  type        = string
  default     = ""
}

variable "admin_token" {
  description = "Admin bearer token of the API (openssl rand -hex 24). Set it with TF_VAR_admin_token, not in a file."
  type        = string
  sensitive   = true
}

variable "read_token" {
  description = "Read-only bearer token for sluice dns, edge-sync and Prometheus (openssl rand -hex 24). Set it with TF_VAR_read_token."
  type        = string
  sensitive   = true
}

variable "report_token" {
  description = "Bearer token edge-sync sends health reports with, so each edge is a vantage point in the origins' health quorum (openssl rand -hex 24). Set it with TF_VAR_report_token; empty: no edge reports."
  type        = string
  sensitive   = true
  default     = ""
}

variable "dns_zone" {
  description = "Zone sluice dns serves; the demo name is app.<zone>."
  type        = string
  default     = "sluice.internal"
}

variable "origin_target_rps" {
  description = "Soft capacity of each origin (new connections per second: the demo nginx closes every connection)."
  type        = number
  default     = 20
}

variable "origin_max_rps" {
  description = "Hard capacity of each origin."
  type        = number
  default     = 30
}

variable "control_plane_vm_size" {
  description = "Control plane VM (API, scheduler, DNS, Prometheus)."
  type        = string
  default     = "Standard_B2s"
}

variable "origin_vm_size" {
  description = "Origin VMs (nginx + agent)."
  type        = string
  default     = "Standard_B1ms"
}

variable "traffic_vm_size" {
  description = "Traffic generator VMs."
  type        = string
  default     = "Standard_B1s"
}

variable "enable_edge" {
  description = "Also deploy an HAProxy edge in East US (edge-sync + agent) in front of both origins."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { project = "sluice-demo" }
}
