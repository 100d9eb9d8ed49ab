variable "name" {
  description = "Edge name: the control plane's edge.name, edge-sync's `edge` label and the agent's `node` label."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{0,62}$", var.name))
    error_message = "name must be 1-63 lower-case letters, digits, '.', '_' or '-'."
  }
}

variable "private_ip" {
  description = "The host's private address: agent and edge-sync metrics listen on it."
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

variable "api_url" {
  description = "Control plane base URL reachable from the edge, over HTTPS, e.g. https://10.10.1.10:8080 (the control plane's certificate must carry that address)."
  type        = string

  validation {
    condition     = startswith(var.api_url, "https://")
    error_message = "api_url must be https:// (the control plane serves TLS beyond loopback)."
  }
}

variable "read_token" {
  description = "Read-only bearer token edge-sync uses to long-poll its config."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.read_token) >= 16
    error_message = "read_token must be at least 16 characters."
  }
}

variable "report_token" {
  description = "The control plane's report token: edge-sync then reports what this edge sees of each origin's health (and reads its config with it). Empty: the read token (reports refused, said in edge-sync's log)."
  type        = string
  sensitive   = true
  default     = ""

  validation {
    condition     = var.report_token == "" || length(var.report_token) >= 16
    error_message = "report_token must be empty or at least 16 characters."
  }
}

variable "edge_id" {
  description = "The edge's id in the control plane. Empty: found by name at boot (deploy/resolve-edge-id.sh waits until the edge is registered)."
  type        = string
  default     = ""
}

variable "dataplane" {
  description = "haproxy (L7/L4 proxy, runtime API) or ipvs (LVS, kernel L4; needs the VIP configured on the host)."
  type        = string
  default     = "haproxy"

  validation {
    condition     = contains(["haproxy", "ipvs"], var.dataplane)
    error_message = "dataplane must be \"haproxy\" or \"ipvs\"."
  }
}

variable "load_balancer" {
  description = "Name of the load balancer this edge serves (HAProxy backends are named <load_balancer>_<port>)."
  type        = string
}

variable "listeners" {
  description = "The load balancer's listeners on this edge: port and HAProxy mode (http or tcp)."
  type = list(object({
    port = number
    mode = string
  }))
  default = [{ port = 80, mode = "http" }]

  validation {
    condition     = alltrue([for l in var.listeners : contains(["http", "tcp"], l.mode)])
    error_message = "listener mode must be http or tcp."
  }
}

variable "upstreams" {
  description = "Origin addresses as IP:PORT: the agent on the edge exports its RTT to each (edge -> origin cost)."
  type        = list(string)
  default     = []
}

variable "agent_port" {
  description = "Port of the agent's metrics."
  type        = number
  default     = 9465
}

variable "metrics_port" {
  description = "Port of edge-sync's metrics (edge demand, weights in force)."
  type        = number
  default     = 9310
}

variable "tls" {
  description = "TLS for this host (docs/TLS.md), as PEM: ca_pem, the CA every sluice part trusts; cert_pem and key_pem, this host's certificate for edge-sync's and the agent's metrics on private_ip, and edge-sync as the control plane's client. Its subjectAltName must carry private_ip; its extendedKeyUsage serverAuth and clientAuth; its subject OU the role it gets as a client (sluice-read). modules/sluice-pki makes such certificates."
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
