# target_type = "gwlb": the Gateway Load Balancer (nlb.tf) offered as a VPC
# endpoint service, one GWLB endpoint per Availability Zone of subnet_ids,
# and (mirror.tf) one traffic mirror target per endpoint. A mirror source
# must be in the same Availability Zone as a GWLB endpoint target, so each
# session goes to the target of its source's zone. Other accounts in
# gwlb_allowed_principals create their own endpoints of the service and
# mirror targets on them (deploy/README.md, "Gateway Load Balancer").

# The load balancer's subnets: GWLB nodes send GENEVE and health checks from
# their addresses (IPv4), and each subnet's zone gets an endpoint.
data "aws_subnet" "lb" {
  for_each = local.gwlb ? toset(var.subnet_ids) : toset([])

  id = each.value
}

locals {
  subnet_cidrs = distinct([for s in data.aws_subnet.lb : s.cidr_block])
  # Availability Zone -> the subnet of that zone's endpoint.
  gwlb_subnet_by_az = { for id, s in data.aws_subnet.lb : s.availability_zone => id... }
  gwlb_endpoint_subnets = local.gwlb && var.create_gwlb_endpoint ? {
    for az, ids in local.gwlb_subnet_by_az : az => ids[0]
  } : {}
  # The caller's own account, always: PrivateLink offers a new endpoint
  # service to nobody, not even its owner's endpoints.
  gwlb_principals = distinct(concat(
    ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root"],
    var.gwlb_allowed_principals,
  ))
}

resource "aws_vpc_endpoint_service" "gwlb" {
  count = local.gwlb ? 1 : 0

  gateway_load_balancer_arns = [aws_lb.this.arn]
  acceptance_required        = var.gwlb_acceptance_required
  allowed_principals         = local.gwlb_principals
  tags                       = merge(local.tags, { Name = "${var.name}-gwlb" })

  lifecycle {
    precondition {
      condition     = alltrue([for az, ids in local.gwlb_subnet_by_az : length(ids) == 1])
      error_message = "subnet_ids: one subnet per Availability Zone (a GWLB endpoint and a mirror target are made per zone)."
    }
  }
}

# An endpoint of our own service still waits for acceptance when the service
# requires it; accepting our own keeps the mirror targets usable.
resource "aws_vpc_endpoint_connection_accepter" "gwlb" {
  for_each = var.gwlb_acceptance_required ? aws_vpc_endpoint.gwlb : {}

  vpc_endpoint_service_id = aws_vpc_endpoint_service.gwlb[0].id
  vpc_endpoint_id         = each.value.id
}

resource "aws_vpc_endpoint" "gwlb" {
  for_each = local.gwlb_endpoint_subnets

  vpc_id            = var.vpc_id
  service_name      = aws_vpc_endpoint_service.gwlb[0].service_name
  vpc_endpoint_type = "GatewayLoadBalancer"
  subnet_ids        = [each.value]
  tags              = merge(local.tags, { Name = "${var.name}-gwlb-${each.key}" })
}
