# Traffic Mirroring: the NLB as the target, one filter whose rules come from
# var.filter_rules, and one session per source ENI in var.mirror_sessions.

resource "aws_ec2_traffic_mirror_target" "nlb" {
  description               = "${var.name} collectors"
  network_load_balancer_arn = aws_lb.this.arn
  tags                      = merge(local.tags, { Name = var.name })

  # AWS accepts an NLB as a mirror target only once it has a UDP listener.
  depends_on = [aws_lb_listener.vxlan]
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
  traffic_mirror_target_id = aws_ec2_traffic_mirror_target.nlb.id
  tags                     = merge(local.tags, { Name = "${var.name}-${each.value.name}" })

  # Sessions match the filter's rules as they are when the session starts.
  depends_on = [aws_ec2_traffic_mirror_filter_rule.rules]
}
