variable "replica_ips" {
  description = "Private address of each control-plane replica's VM, one replica per address (three is the usual number: any two keep the API up)."
  type        = list(string)
  default     = ["10.10.1.10", "10.10.1.11", "10.10.1.12"]

  validation {
    condition     = length(var.replica_ips) >= 1
    error_message = "Give at least one replica address."
  }
}

variable "api_port" {
  description = "Port of every replica's REST API."
  type        = number
  default     = 8080
}

variable "postgres_url" {
  description = "The shared PostgreSQL database, without a password: postgres://USER@HOST:5432/DB (a managed PostgreSQL with its own replication, e.g. Azure Flexible Server zone-redundant)."
  type        = string
}

variable "postgres_password" {
  description = "Password of the database user (pass it as TF_VAR_postgres_password; it is written to /etc/sluice/postgres.password on each replica, never into a config or log)."
  type        = string
  sensitive   = true
}

variable "postgres_ca_pem" {
  description = "CA certificate (PEM) that signed the database server's certificate (ssl mode verify-full)."
  type        = string
  default     = ""
}

variable "sluice_package" {
  description = "What deploy/install.sh installs: an https URL of an `npm pack` tarball, an npm spec or a git URL."
  type        = string
}

variable "admin_token" {
  description = "Bearer token allowed to write, the same on every replica (openssl rand -hex 24)."
  type        = string
  sensitive   = true
}

variable "read_token" {
  description = "Bearer token allowed to read only, the same on every replica (openssl rand -hex 24)."
  type        = string
  sensitive   = true
}

variable "dns_zone" {
  description = "Zone the replicas' sluice dns servers are authoritative for."
  type        = string
  default     = "sluice.internal"
}
