# Two security groups. The NLB's admits VXLAN from the mirror sources. The
# collectors' admits VXLAN from the sources too (the NLB preserves the client
# address, so collectors see the source ENI's IP) and from the NLB, the health
# and metrics port from the NLB (health checks) and from monitoring_cidrs only.
# Behind a GWLB (which has no security group) the collectors admit GENEVE and
# the health checks from the load balancer's subnets instead.
#
# Every CIDR list may mix IPv4 and IPv6; each rule takes the family of its
# CIDR. Egress to ::/0 is added when the VPC has an IPv6 CIDR.

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  vpc_has_ipv6 = data.aws_vpc.this.ipv6_cidr_block != null && data.aws_vpc.this.ipv6_cidr_block != ""
  egress_cidrs = concat(var.egress_cidrs, local.vpc_has_ipv6 && var.egress_ipv6 && !contains(var.egress_cidrs, "::/0") ? ["::/0"] : [])
  ssh_cidrs    = var.key_name == null ? [] : var.admin_cidrs
}

resource "aws_security_group" "nlb" {
  count = local.gwlb ? 0 : 1

  name_prefix = "${var.name}-nlb-"
  description = "mirrortap NLB: VXLAN from mirror sources"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-nlb" })

  lifecycle {
    create_before_destroy = true
  }
}

moved {
  from = aws_security_group.nlb
  to   = aws_security_group.nlb[0]
}

resource "aws_vpc_security_group_ingress_rule" "nlb_vxlan_from_sources" {
  for_each = local.gwlb ? toset([]) : toset(var.source_cidrs)

  security_group_id = aws_security_group.nlb[0].id
  description       = "VXLAN from mirror sources"
  ip_protocol       = "udp"
  from_port         = local.vxlan_port
  to_port           = local.vxlan_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}

resource "aws_vpc_security_group_egress_rule" "nlb_vxlan_to_collectors" {
  count = local.gwlb ? 0 : 1

  security_group_id            = aws_security_group.nlb[0].id
  description                  = "VXLAN to collectors"
  ip_protocol                  = "udp"
  from_port                    = local.vxlan_port
  to_port                      = local.vxlan_port
  referenced_security_group_id = aws_security_group.collector.id
}

moved {
  from = aws_vpc_security_group_egress_rule.nlb_vxlan_to_collectors
  to   = aws_vpc_security_group_egress_rule.nlb_vxlan_to_collectors[0]
}

resource "aws_vpc_security_group_egress_rule" "nlb_health_to_collectors" {
  count = local.gwlb ? 0 : 1

  security_group_id            = aws_security_group.nlb[0].id
  description                  = "Health checks of /healthz"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.collector.id
}

moved {
  from = aws_vpc_security_group_egress_rule.nlb_health_to_collectors
  to   = aws_vpc_security_group_egress_rule.nlb_health_to_collectors[0]
}

resource "aws_security_group" "collector" {
  name_prefix = "${var.name}-collector-"
  description = "mirrortap collectors: VXLAN in, health and metrics"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-collector" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "collector_vxlan_from_sources" {
  for_each = toset(var.source_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "VXLAN from mirror sources (client address preserved by the NLB)"
  ip_protocol       = "udp"
  from_port         = local.vxlan_port
  to_port           = local.vxlan_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}

resource "aws_vpc_security_group_ingress_rule" "collector_vxlan_from_nlb" {
  count = local.gwlb ? 0 : 1

  security_group_id            = aws_security_group.collector.id
  description                  = "VXLAN through the NLB"
  ip_protocol                  = "udp"
  from_port                    = local.vxlan_port
  to_port                      = local.vxlan_port
  referenced_security_group_id = aws_security_group.nlb[0].id
}

moved {
  from = aws_vpc_security_group_ingress_rule.collector_vxlan_from_nlb
  to   = aws_vpc_security_group_ingress_rule.collector_vxlan_from_nlb[0]
}

resource "aws_vpc_security_group_ingress_rule" "collector_health_from_nlb" {
  count = local.gwlb ? 0 : 1

  security_group_id            = aws_security_group.collector.id
  description                  = "NLB health checks of /healthz"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.nlb[0].id
}

moved {
  from = aws_vpc_security_group_ingress_rule.collector_health_from_nlb
  to   = aws_vpc_security_group_ingress_rule.collector_health_from_nlb[0]
}

# GWLB: GENEVE and health checks come from the GWLB nodes in subnet_ids.
resource "aws_vpc_security_group_ingress_rule" "collector_geneve_from_gwlb" {
  for_each = toset(local.subnet_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "GENEVE from the Gateway Load Balancer"
  ip_protocol       = "udp"
  from_port         = local.geneve_port
  to_port           = local.geneve_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "collector_health_from_gwlb" {
  for_each = toset(local.subnet_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "GWLB health checks of /healthz"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "collector_metrics_from_monitoring" {
  for_each = toset(var.monitoring_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "Prometheus scrapes of /metrics"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}

# SSH only with a key pair, and only from admin_cidrs.
resource "aws_vpc_security_group_ingress_rule" "collector_ssh_from_admins" {
  for_each = toset(local.ssh_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "SSH from administrators"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}

# Boot needs the Debian mirror (HTTP or HTTPS) and the package URL; uploads,
# lifecycle actions and Session Manager are HTTPS to AWS endpoints; nothing
# else leaves a collector.
resource "aws_vpc_security_group_egress_rule" "collector_web" {
  for_each = { for pair in setproduct(local.egress_cidrs, [80, 443]) : "${pair[0]}:${pair[1]}" => pair }

  security_group_id = aws_security_group.collector.id
  description       = "Packages at boot, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  cidr_ipv4         = strcontains(each.value[0], ":") ? null : each.value[0]
  cidr_ipv6         = strcontains(each.value[0], ":") ? each.value[0] : null
}

# The S3 gateway endpoint's addresses are a prefix list, not a CIDR: allow it
# by name, so that narrowing egress_cidrs never cuts the uploads.
resource "aws_vpc_security_group_egress_rule" "collector_s3" {
  count = var.s3_gateway_endpoint ? 1 : 0

  security_group_id = aws_security_group.collector.id
  description       = "S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3[0].prefix_list_id
}
