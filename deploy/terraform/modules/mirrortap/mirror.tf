# Traffic Mirroring: the NLB, or each zone's GWLB endpoint, as the target; one
# filter whose rules come from var.filter_rules; one session per source ENI
# in var.mirror_sessions, to the target of its zone.

resource "aws_ec2_traffic_mirror_target" "this" {
  count = local.gwlb ? 0 : 1

  description               = "${var.name} collectors"
  network_load_balancer_arn = aws_lb.this.arn
  tags                      = merge(local.tags, { Name = var.name })

  # AWS accepts an NLB as a mirror target only once it has a UDP listener.
  depends_on = [aws_lb_listener.vxlan]
}

# GWLB: one target per zone's endpoint. AWS refuses a session whose source
# is in another Availability Zone than its GWLB endpoint target.
resource "aws_ec2_traffic_mirror_target" "gwlb" {
  for_each = aws_vpc_endpoint.gwlb

  description                       = "${var.name} collectors (${each.key})"
  gateway_load_balancer_endpoint_id = each.value.id
  tags                              = merge(local.tags, { Name = "${var.name}-${each.key}" })

  # A GWLB endpoint is a target only once its load balancer has a listener
  # and (with acceptance required) its connection was accepted.
  depends_on = [aws_lb_listener.vxlan, aws_vpc_endpoint_connection_accepter.gwlb]
}

# The zone of each mirrored ENI, for the target of that zone (GWLB only).
data "aws_network_interface" "source" {
  for_each = local.gwlb ? toset([for s in var.mirror_sessions : s.network_interface_id]) : toset([])

  id = each.value
}

locals {
  # Availability Zone -> target id / ARN ("" with an NLB: one target for all).
  mirror_target_by_az     = { for az, t in aws_ec2_traffic_mirror_target.gwlb : az => t.id }
  mirror_target_arn_by_az = { for az, t in aws_ec2_traffic_mirror_target.gwlb : az => t.arn }
  nlb_target_id           = one(aws_ec2_traffic_mirror_target.this[*].id)
  session_target = { for s in var.mirror_sessions : "${s.network_interface_id}/${s.session_number}" => (
    local.gwlb ? lookup(local.mirror_target_by_az, data.aws_network_interface.source[s.network_interface_id].availability_zone, null) : local.nlb_target_id
  ) }
}

moved {
  from = aws_ec2_traffic_mirror_target.nlb
  to   = aws_ec2_traffic_mirror_target.this[0]
}

resource "aws_ec2_traffic_mirror_filter" "this" {
  description      = "${var.name} filter"
  network_services = var.mirror_amazon_dns ? ["amazon-dns"] : []
  tags             = merge(local.tags, { Name = var.name })
}

resource "aws_ec2_traffic_mirror_filter_rule" "rules" {
  for_each = { for r in var.filter_rules : "${r.direction}-${r.rule_number}" => r }

  traffic_mirror_filter_id = aws_ec2_traffic_mirror_filter.this.id
  traffic_direction        = each.value.direction
  rule_number              = each.value.rule_number
  rule_action              = each.value.action
  protocol                 = each.value.protocol
  source_cidr_block        = each.value.source_cidr
  destination_cidr_block   = each.value.destination_cidr
  description              = each.value.description

  dynamic "source_port_range" {
    for_each = each.value.source_ports == null ? [] : [each.value.source_ports]
    content {
      from_port = source_port_range.value.from
      to_port   = source_port_range.value.to
    }
  }

  dynamic "destination_port_range" {
    for_each = each.value.destination_ports == null ? [] : [each.value.destination_ports]
    content {
      from_port = destination_port_range.value.from
      to_port   = destination_port_range.value.to
    }
  }
}

resource "aws_ec2_traffic_mirror_session" "sessions" {
  for_each = { for s in var.mirror_sessions : "${s.network_interface_id}/${s.session_number}" => s }

  description              = coalesce(each.value.description, "${var.name} ${each.value.name}")
  network_interface_id     = each.value.network_interface_id
  session_number           = each.value.session_number
  virtual_network_id       = each.value.vni
  packet_length            = each.value.packet_length
  traffic_mirror_filter_id = aws_ec2_traffic_mirror_filter.this.id
  traffic_mirror_target_id = local.session_target[each.key]
  tags                     = merge(local.tags, { Name = "${var.name}-${each.value.name}" })

  # Sessions match the filter's rules as they are when the session starts.
  depends_on = [aws_ec2_traffic_mirror_filter_rule.rules]

  lifecycle {
    precondition {
      condition     = local.session_target[each.key] != null
      error_message = "mirror_sessions need this module's mirror target in the source's Availability Zone: with target_type = \"gwlb\" keep create_gwlb_endpoint true and give subnet_ids a subnet in every zone that has mirror sources (or create the sessions where the endpoints are)."
    }
  }
}
