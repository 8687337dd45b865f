# Two security groups. The NLB's admits VXLAN from the mirror sources. The
# collectors' admits VXLAN from the sources too (the NLB preserves the client
# address, so collectors see the source ENI's IP) and from the NLB, the health
# and metrics port from the NLB (health checks) and from monitoring_cidrs only.

resource "aws_security_group" "nlb" {
  name_prefix = "${var.name}-nlb-"
  description = "mirrortap NLB: VXLAN from mirror sources"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-nlb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "nlb_vxlan_from_sources" {
  for_each = toset(var.source_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "VXLAN from mirror sources"
  ip_protocol       = "udp"
  from_port         = local.vxlan_port
  to_port           = local.vxlan_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "nlb_vxlan_to_collectors" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "VXLAN to collectors"
  ip_protocol                  = "udp"
  from_port                    = local.vxlan_port
  to_port                      = local.vxlan_port
  referenced_security_group_id = aws_security_group.collector.id
}

resource "aws_vpc_security_group_egress_rule" "nlb_health_to_collectors" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "Health checks of /healthz"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.collector.id
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
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "collector_vxlan_from_nlb" {
  security_group_id            = aws_security_group.collector.id
  description                  = "VXLAN through the NLB"
  ip_protocol                  = "udp"
  from_port                    = local.vxlan_port
  to_port                      = local.vxlan_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "collector_health_from_nlb" {
  security_group_id            = aws_security_group.collector.id
  description                  = "NLB health checks of /healthz"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "collector_metrics_from_monitoring" {
  for_each = toset(var.monitoring_cidrs)

  security_group_id = aws_security_group.collector.id
  description       = "Prometheus scrapes of /metrics"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

# Boot needs the Debian mirror (HTTP or HTTPS) and the package URL; nothing
# else leaves a collector.
resource "aws_vpc_security_group_egress_rule" "collector_web" {
  for_each = { for pair in setproduct(var.egress_cidrs, [80, 443]) : "${pair[0]}:${pair[1]}" => pair }

  security_group_id = aws_security_group.collector.id
  description       = "Packages at boot"
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  cidr_ipv4         = each.value[0]
}
