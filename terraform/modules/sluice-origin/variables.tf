variable "name" {
  description = "Origin name: the agent's `node` label, which must equal the origin's name in the control plane."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{0,62}$", var.name))
    error_message = "name must be 1-63 lower-case letters, digits, '.', '_' or '-'."
  }
}

variable "region" {
  description = "Region label shown on the demo page (the control plane's origin.region)."
  type        = string
}

variable "private_ip" {
  description = "The host's private address: the agent's /metrics listens on it (Prometheus scrapes it over the private network)."
  type        = string
}

variable "sluice_package" {
  description = "What deploy/install.sh installs: an https URL of a tarball made by `npm pack`, an npm spec or a git URL."
  type        = string
}

variable "sluice_package_sha256" {
  description = "SHA-256 of the tarball in sluice_package (empty: not checked)."
  type        = string
  default     = ""
}

variable "node_version" {
  description = "Node.js version install.sh downloads when the image has no Node >= 20."
  type        = string
  default     = "20.18.1"
}

variable "service_ports" {
  description = "Ports of the application whose clients the agent learns (client RTT per subnet, demand)."
  type        = list(number)
  default     = [80]
}

variable "agent_port" {
  description = "Port of the agent's /metrics, /metrics/subnets and /healthz."
  type        = number
  default     = 9465
}

variable "poll_interval" {
  description = "How often the agent reads the kernel's TCP table."
  type        = string
  default     = "5s"
}

variable "min_samples" {
  description = "RTT samples a subnet needs before its RTT is exported."
  type        = number
  default     = 5
}

variable "demo_app" {
  description = "Install nginx serving a page that names this origin on service_ports[0] (for the demo). false: bring your own application."
  type        = bool
  default     = true
}

variable "tls" {
  description = "TLS for this host (docs/TLS.md), as PEM: ca_pem, the CA every sluice part trusts; cert_pem and key_pem, this host's certificate for the agent's endpoints on private_ip. Its subjectAltName must carry private_ip; its extendedKeyUsage serverAuth and clientAuth; its subject OU the role it gets as a client (sluice-read). modules/sluice-pki makes such certificates."
  type = object({
    ca_pem   = string
    cert_pem = string
    key_pem  = string
  })
  sensitive = true

  validation {
    condition     = can(regex("-----BEGIN CERTIFICATE-----", var.tls.ca_pem)) && can(regex("-----BEGIN CERTIFICATE-----", var.tls.cert_pem)) && can(regex("-----BEGIN [A-Z ]*PRIVATE KEY-----", var.tls.key_pem))
    error_message = "tls.ca_pem and tls.cert_pem must be PEM certificates, tls.key_pem a PEM private key."
  }
}
