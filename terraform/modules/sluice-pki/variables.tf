variable "ca_common_name" {
  description = "Subject CN of the CA every sluice part trusts."
  type        = string
  default     = "sluice CA"
}

variable "hosts" {
  description = "One certificate per host, by host name: the addresses (and names) others reach it at go into subjectAltName; ou is the role the control plane gives it as a client (sluice-read for DNS servers and Prometheus, sluice-report for edges whose host name is their sluice edge name: a report credential bound to that edge, sluice-admin for operators)."
  type = map(object({
    ip_addresses = list(string)
    dns_names    = optional(list(string), [])
    ou           = optional(string, "sluice-read")
  }))

  validation {
    condition     = alltrue([for h in values(var.hosts) : length(h.ip_addresses) + length(h.dns_names) > 0])
    error_message = "Every host needs at least one address or name for subjectAltName."
  }
}

variable "validity_hours" {
  description = "Lifetime of the host certificates (renew before: the sluice parts reload renewed files without a restart)."
  type        = number
  default     = 8760
}

variable "ca_validity_hours" {
  description = "Lifetime of the CA certificate."
  type        = number
  default     = 87600
}
