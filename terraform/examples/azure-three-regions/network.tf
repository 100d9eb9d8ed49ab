# Three regions, one VNet each, peered in a full mesh: the control plane (East US) reaches every
# agent; the traffic generators reach DNS and every origin. Address plan:
#   East US         10.10.0.0/16  control plane .10, traffic generator .20, edge .30
#   West Europe     10.20.0.0/16  origin .10
#   Southeast Asia  10.30.0.0/16  origin .10, traffic generator .20

locals {
  regions = {
    eus = { location = "eastus", cidr = "10.10.0.0/16", subnet = "10.10.1.0/24", lat = 37.37, lon = -79.82 }
    weu = { location = "westeurope", cidr = "10.20.0.0/16", subnet = "10.20.1.0/24", lat = 52.37, lon = 4.89 }
    sea = { location = "southeastasia", cidr = "10.30.0.0/16", subnet = "10.30.1.0/24", lat = 1.28, lon = 103.83 }
  }

  # Every ordered pair of regions: a peering is one-way, so each link needs two.
  peerings = {
    for pair in setproduct(keys(local.regions), keys(local.regions)) :
    "${pair[0]}-to-${pair[1]}" => { from = pair[0], to = pair[1] } if pair[0] != pair[1]
  }

  vnet_cidrs = [for r in local.regions : r.cidr]
}

resource "azurerm_resource_group" "demo" {
  name     = var.resource_group_name
  location = local.regions.eus.location
  tags     = var.tags
}

resource "azurerm_virtual_network" "region" {
  for_each            = local.regions
  name                = "vnet-sluice-${each.key}"
  resource_group_name = azurerm_resource_group.demo.name
  location            = each.value.location
  address_space       = [each.value.cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "hosts" {
  for_each             = local.regions
  name                 = "hosts"
  resource_group_name  = azurerm_resource_group.demo.name
  virtual_network_name = azurerm_virtual_network.region[each.key].name
  address_prefixes     = [each.value.subnet]
}

resource "azurerm_virtual_network_peering" "mesh" {
  for_each                     = local.peerings
  name                         = "peer-${each.key}"
  resource_group_name          = azurerm_resource_group.demo.name
  virtual_network_name         = azurerm_virtual_network.region[each.value.from].name
  remote_virtual_network_id    = azurerm_virtual_network.region[each.value.to].id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = false
}
