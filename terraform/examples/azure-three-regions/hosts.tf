# The sluice roles render cloud-init (modules/sluice-*); modules/azure-linux-vm turns each into a VM
# with its own NSG opening only that role's ports.

locals {
  cp_ip   = "10.10.1.10"
  edge_ip = "10.10.1.30"

  origins = {
    "origin-weu" = { region = "weu", ip = "10.20.1.10" }
    "origin-sea" = { region = "sea", ip = "10.30.1.10" }
  }

  traffic_generators = {
    "traffic-eus" = { region = "eus", ip = "10.10.1.20" }
    "traffic-sea" = { region = "sea", ip = "10.30.1.20" }
  }

  ssh_public_key = trimspace(file(pathexpand(var.ssh_public_key_path)))
  ssh_rule       = { name = "ssh", port = 22, protocol = "Tcp", source_cidrs = var.admin_cidrs }
  monitoring     = ["${local.cp_ip}/32"]

  # What the control plane registers at first boot (POST bodies of the API).
  topology = {
    load_balancer = {
      name           = "web"
      dns            = { zone = var.dns_zone, hostname = "app.${var.dns_zone}", ttl = 30, answers = 1 }
      listeners      = var.enable_edge ? [{ vip = local.edge_ip, port = 80, protocol = "http" }] : []
      policy         = "latency"
      max_latency_ms = 400
      min_samples    = 5
      max_shift      = 0.02
    }
    origins = [
      for name, o in local.origins : {
        name         = name
        region       = local.regions[o.region].location
        addresses    = [o.ip]
        port         = 80
        location     = { lat = local.regions[o.region].lat, lon = local.regions[o.region].lon }
        target_rps   = var.origin_target_rps
        max_rps      = var.origin_max_rps
        health_check = { type = "http", path = "/", interval_ms = 5000, timeout_ms = 2000 }
      }
    ]
    edges = var.enable_edge ? [
      { name = "edge-eus", region = "eastus", address = local.edge_ip, location = { lat = local.regions.eus.lat, lon = local.regions.eus.lon } },
    ] : []
  }
}

# Certificates for every host (hashicorp/tls, in state): each host's private address in
# subjectAltName, OU sluice-read (its role as a client); the edge's OU sluice-report with CN edge-eus
# (its edge name): its certificate alone lets it send that edge's health reports, no report token
# needed. Bring your own CA instead by passing each role module's `tls` directly.
module "pki" {
  source = "../../modules/sluice-pki"

  hosts = merge(
    { "sluice-cp" = { ip_addresses = [local.cp_ip] } },
    { for name, o in local.origins : name => { ip_addresses = [o.ip] } },
    var.enable_edge ? { "edge-eus" = { ip_addresses = [local.edge_ip], ou = "sluice-report" } } : {},
  )
}

module "origin_role" {
  source   = "../../modules/sluice-origin"
  for_each = local.origins

  name                  = each.key
  region                = local.regions[each.value.region].location
  private_ip            = each.value.ip
  sluice_package        = var.sluice_package
  sluice_package_sha256 = var.sluice_package_sha256
  service_ports         = [80]
  tls                   = module.pki.tls[each.key]
}

module "origin_vm" {
  source   = "../../modules/azure-linux-vm"
  for_each = local.origins

  name                = each.key
  resource_group_name = azurerm_resource_group.demo.name
  location            = local.regions[each.value.region].location
  subnet_id           = azurerm_subnet.hosts[each.value.region].id
  private_ip          = each.value.ip
  vm_size             = var.origin_vm_size
  ssh_public_key      = local.ssh_public_key
  custom_data         = module.origin_role[each.key].cloud_init
  tags                = var.tags
  inbound_rules = concat([local.ssh_rule], [
    for p in module.origin_role[each.key].inbound_ports : {
      name         = p.name
      port         = p.port
      protocol     = p.protocol
      source_cidrs = p.scope == "monitoring" ? local.monitoring : local.vnet_cidrs
    }
  ])
}

module "edge_role" {
  source = "../../modules/sluice-edge"
  count  = var.enable_edge ? 1 : 0

  name                  = "edge-eus"
  private_ip            = local.edge_ip
  sluice_package        = var.sluice_package
  sluice_package_sha256 = var.sluice_package_sha256
  api_url               = "https://${local.cp_ip}:8080"
  read_token            = var.read_token
  report_token          = var.report_token
  tls                   = module.pki.tls["edge-eus"]
  dataplane             = "haproxy"
  load_balancer         = "web"
  listeners             = [{ port = 80, mode = "http" }]
  upstreams             = [for o in local.origins : "${o.ip}:80"]
}

module "edge_vm" {
  source = "../../modules/azure-linux-vm"
  count  = var.enable_edge ? 1 : 0

  name                = "edge-eus"
  resource_group_name = azurerm_resource_group.demo.name
  location            = local.regions.eus.location
  subnet_id           = azurerm_subnet.hosts["eus"].id
  private_ip          = local.edge_ip
  vm_size             = var.origin_vm_size
  ssh_public_key      = local.ssh_public_key
  custom_data         = module.edge_role[0].cloud_init
  tags                = var.tags
  inbound_rules = concat([local.ssh_rule], [
    for p in module.edge_role[0].inbound_ports : {
      name         = p.name
      port         = p.port
      protocol     = p.protocol
      source_cidrs = p.scope == "monitoring" ? local.monitoring : concat(local.vnet_cidrs, var.admin_cidrs)
    }
  ])
}

module "control_plane_role" {
  source = "../../modules/sluice-control-plane"

  name                  = "sluice-cp"
  private_ip            = local.cp_ip
  sluice_package        = var.sluice_package
  sluice_package_sha256 = var.sluice_package_sha256
  admin_token           = var.admin_token
  read_token            = var.read_token
  report_token          = var.report_token
  tls                   = module.pki.tls["sluice-cp"]
  dns_zone              = var.dns_zone
  agent_targets = concat(
    [for k, o in local.origins : module.origin_role[k].agent_target],
    [for e in module.edge_role : e.agent_target],
  )
  edge_sync_targets = [for e in module.edge_role : e.edge_sync_target]
  geo_cidr_mappings = [
    for k, t in local.traffic_generators : { cidr = cidrsubnet("${t.ip}/24", 0, 0), lat = local.regions[t.region].lat, lon = local.regions[t.region].lon }
  ]
  bootstrap = local.topology
}

module "control_plane_vm" {
  source = "../../modules/azure-linux-vm"

  name                = "sluice-cp"
  resource_group_name = azurerm_resource_group.demo.name
  location            = local.regions.eus.location
  subnet_id           = azurerm_subnet.hosts["eus"].id
  private_ip          = local.cp_ip
  vm_size             = var.control_plane_vm_size
  ssh_public_key      = local.ssh_public_key
  custom_data         = module.control_plane_role.cloud_init
  tags                = var.tags
  inbound_rules = concat([local.ssh_rule], [
    for p in module.control_plane_role.inbound_ports : {
      name         = p.name
      port         = p.port
      protocol     = p.protocol
      source_cidrs = p.scope == "operators" ? concat(var.admin_cidrs, local.vnet_cidrs) : local.vnet_cidrs
    }
  ])
}

module "traffic_vm" {
  source   = "../../modules/azure-linux-vm"
  for_each = local.traffic_generators

  name                = each.key
  resource_group_name = azurerm_resource_group.demo.name
  location            = local.regions[each.value.region].location
  subnet_id           = azurerm_subnet.hosts[each.value.region].id
  private_ip          = each.value.ip
  vm_size             = var.traffic_vm_size
  ssh_public_key      = local.ssh_public_key
  tags                = var.tags
  inbound_rules       = [local.ssh_rule]
  custom_data = templatefile("${path.module}/templates/traffic-generator.yaml.tftpl", {
    dns_server = local.cp_ip
    hostname   = "app.${var.dns_zone}"
    api_url    = "https://${local.cp_ip}:8080"
    ca_pem     = module.pki.ca_pem
    origins    = [for name, o in local.origins : { name = name, ip = o.ip }]
  })
}
