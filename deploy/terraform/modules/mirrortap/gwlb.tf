# target_type = "gwlb": the Gateway Load Balancer (nlb.tf) offered as a VPC
# endpoint service, a GWLB endpoint in this VPC, and (mirror.tf) the traffic
# mirror target on that endpoint. Other accounts in gwlb_allowed_principals
# create their own endpoints of the service and mirror targets on them
# (deploy/README.md, "Gateway Load Balancer").

resource "aws_vpc_endpoint_service" "gwlb" {
  count = local.gwlb ? 1 : 0

  gateway_load_balancer_arns = [aws_lb.this.arn]
  acceptance_required        = var.gwlb_acceptance_required
  allowed_principals         = var.gwlb_allowed_principals
  tags                       = merge(local.tags, { Name = "${var.name}-gwlb" })
}

resource "aws_vpc_endpoint" "gwlb" {
  count = local.gwlb && var.create_gwlb_endpoint ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = aws_vpc_endpoint_service.gwlb[0].service_name
  vpc_endpoint_type = "GatewayLoadBalancer"
  subnet_ids        = [coalesce(var.gwlb_endpoint_subnet_id, var.subnet_ids[0])]
  tags              = merge(local.tags, { Name = "${var.name}-gwlb" })
}

# The addresses GWLB nodes send GENEVE and health checks from (IPv4): the
# load balancer's subnets.
data "aws_subnet" "lb" {
  for_each = local.gwlb ? toset(var.subnet_ids) : toset([])

  id = each.value
}

locals {
  subnet_cidrs = distinct([for s in data.aws_subnet.lb : s.cidr_block])
}
