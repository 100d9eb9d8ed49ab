variable "name" {
  description = "Host name of the control plane (also the `instance` Prometheus sees for it)."
  type        = string
}

variable "private_ip" {
  description = "The host's private address: sluice dns binds port 53 on it (not 0.0.0.0, which systemd-resolved's 127.0.0.53:53 would conflict with)."
  type        = string
}

variable "sluice_package" {
  description = "What deploy/install.sh installs: an https URL of a tarball made by `npm pack`, an npm spec (sluice@0.1.0) or a git URL."
  type        = string
}

variable "sluice_package_sha256" {
  description = "SHA-256 of the tarball in sluice_package (empty: not checked)."
  type        = string
  default     = ""
}

variable "node_version" {
  description = "Node.js version install.sh downloads (verified against nodejs.org's SHASUMS256.txt) when the image has no Node >= 20."
  type        = string
  default     = "20.18.1"
}

variable "api_port" {
  description = "Port of the REST API (listens on all addresses; open it only to edges, DNS servers and operators)."
  type        = number
  default     = 8080
}

variable "admin_token" {
  description = "Bearer token allowed to write (create load balancers, origins, edges). Only its SHA-256 goes into the control plane's config; the plain token is written root-only for the bootstrap."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.admin_token) >= 16
    error_message = "admin_token must be at least 16 characters (openssl rand -hex 24)."
  }
}

variable "read_token" {
  description = "Bearer token allowed to read only: used by sluice dns, edge-sync and Prometheus (control plane /metrics)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.read_token) >= 16
    error_message = "read_token must be at least 16 characters (openssl rand -hex 24)."
  }
}

variable "report_token" {
  description = "Bearer token edge-sync sends health reports with (auth.report_tokens: read, and report as an edge, nothing else). Empty: edges cannot report, health is judged by the control plane's own checks."
  type        = string
  sensitive   = true
  default     = ""

  validation {
    condition     = var.report_token == "" || length(var.report_token) >= 16
    error_message = "report_token must be empty or at least 16 characters (openssl rand -hex 24)."
  }
}

variable "scheduler_interval" {
  description = "Scheduler cycle (a sluice duration such as 15s)."
  type        = string
  default     = "15s"
}

variable "use_recording_rules" {
  description = "Point the scheduler's PromQL at deploy/prometheus recording rules (sluice:*:rate1m) instead of rating raw counters every cycle."
  type        = bool
  default     = true
}

variable "geo_cidr_mappings" {
  description = "Locations of client subnets GeoIP cannot place (private ranges): the scheduler's cost estimate and sluice dns' fallback before anything is learned."
  type = list(object({
    cidr = string
    lat  = number
    lon  = number
  }))
  default = []
}

variable "dns_zone" {
  description = "Zone sluice dns is authoritative for (the load balancers' dns.zone)."
  type        = string
}

variable "dns_port" {
  description = "Port sluice dns serves on (UDP and TCP) on private_ip."
  type        = number
  default     = 53
}

variable "dns_cidr_mappings" {
  description = "Client subnets answered from a region's origins when nothing is learned yet (before geolocation)."
  type = list(object({
    cidr   = string
    region = string
  }))
  default = []
}

variable "agent_targets" {
  description = "Agents Prometheus scrapes, as HOST:PORT (origins and edges)."
  type        = list(string)
  default     = []
}

variable "edge_sync_targets" {
  description = "edge-sync metrics endpoints Prometheus scrapes, as HOST:PORT."
  type        = list(string)
  default     = []
}

variable "prometheus_retention" {
  description = "How long Prometheus keeps samples."
  type        = string
  default     = "15d"
}

variable "bootstrap" {
  description = "Load balancer, origins and edges registered through the API at first boot (bodies of POST /api/v1/load-balancers, .../origins and /api/v1/edges). null: register them yourself."
  type = object({
    load_balancer = any
    origins       = list(any)
    edges         = list(any)
  })
  default = null
}

variable "replica_id" {
  description = "This replica's name in /api/v1/health, the scheduler lease and health observations (letters, digits, . _ : -). Empty: the host name var.name."
  type        = string
  default     = ""
}

variable "postgres" {
  description = "The PostgreSQL database several control-plane replicas share (null: SQLite on this host, one replica). url has no password; the password is written root:sluice-cp 0640 to /etc/sluice/postgres.password. ssl_mode: disable, require, verify-ca or verify-full (ca_pem then)."
  type = object({
    url       = string
    password  = string
    pool_size = optional(number, 10)
    ssl_mode  = optional(string, "verify-full")
    ca_pem    = optional(string, "")
  })
  default   = null
  sensitive = true

  validation {
    condition     = var.postgres == null || can(regex("^postgres(ql)?://[^:@/]+@", var.postgres.url))
    error_message = "postgres.url must be postgres://USER@HOST:PORT/DB, without a password (that goes in postgres.password)."
  }
}

variable "control_plane_urls" {
  description = "Every control-plane replica's API base URL (https://), for this host's sluice dns to fail over between (empty: this host's own API only)."
  type        = list(string)
  default     = []
}

variable "tls" {
  description = "TLS for this host (docs/TLS.md), as PEM: ca_pem, the CA every sluice part trusts; cert_pem and key_pem, this host's certificate for the control plane API (and its sluice dns's /metrics) on private_ip, as the client of the other replicas' APIs (dns) and of the agents' and edge-syncs' metrics (Prometheus). Its subjectAltName must carry private_ip; its extendedKeyUsage serverAuth and clientAuth; its subject OU the role it gets as a client (sluice-read). modules/sluice-pki makes such certificates."
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
