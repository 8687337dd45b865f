# The load balancer in front of the collectors, one of two kinds:
#
# target_type = "nlb": an internal NLB with one UDP 4789 listener. NLB hashes
# each UDP flow (outer 5-tuple) to one collector; AWS Traffic Mirroring and
# mirrortap-sender set the outer source port from the inner flow, so an inner
# flow sticks to one collector (deploy/scale-out.md). With flow_affinity =
# "source_ip" the NLB picks the collector by the outer source IP alone (the
# mirrored ENI), so both directions of every connection of one source land on
# one collector.
#
# target_type = "gwlb": a Gateway Load Balancer, whose target group speaks
# GENEVE on UDP 6081 to the collectors (gwlb.tf has its endpoint service and
# endpoint). GWLB hashes the mirror packet's 5-tuple; with flow_affinity =
# "source_ip" it sticks by source and destination IP, which for a mirror
# packet are the mirrored ENI and the endpoint: again one source, one
# collector.

resource "aws_lb" "this" {
  name                             = "${var.name}-${local.gwlb ? "gwlb" : "nlb"}"
  internal                         = local.gwlb ? null : true
  load_balancer_type               = local.gwlb ? "gateway" : "network"
  subnets                          = var.subnet_ids
  security_groups                  = local.gwlb ? null : [aws_security_group.nlb[0].id]
  enable_cross_zone_load_balancing = var.cross_zone_load_balancing
  tags                             = local.tags
}

resource "aws_lb_target_group" "collectors" {
  name                 = "${var.name}-${local.gwlb ? "geneve" : "vxlan"}"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  protocol             = local.gwlb ? "GENEVE" : "UDP"
  port                 = local.gwlb ? local.geneve_port : local.vxlan_port
  deregistration_delay = var.deregistration_delay_seconds
  # At the end of the deregistration delay, flows still pinned to a removed
  # collector are cut so that their next packets hash to one that stays.
  # Mirror flows are never idle, so without this they would follow the
  # collector until it is gone. (GWLB: target_failover below.)
  connection_termination = local.gwlb ? null : true

  # Only rendered for source_ip: "none" keeps the provider's default (no
  # stickiness block at all, 5-tuple hashing), so existing plans do not change.
  dynamic "stickiness" {
    for_each = var.flow_affinity == "source_ip" ? [1] : []
    content {
      type    = local.gwlb ? "source_ip_dest_ip" : "source_ip"
      enabled = true
    }
  }

  # GWLB's counterpart of connection_termination: a deregistered or unhealthy
  # collector's flows move to the others (after the deregistration delay).
  dynamic "target_failover" {
    for_each = local.gwlb ? [1] : []
    content {
      on_deregistration = "rebalance"
      on_unhealthy      = "rebalance"
    }
  }

  # UDP and GENEVE cannot be health-checked; the collector's HTTP /healthz
  # goes red before data is lost (queues full, disk full, workers dead).
  health_check {
    enabled  = true
    protocol = "HTTP"
    port     = tostring(var.metrics_port)
    path     = "/healthz"
    # ELBv2 refuses anything but "200-399" on a Gateway Load Balancer's
    # target group; /healthz answers 200 or 503, so both mean the same.
    matcher             = local.gwlb ? "200-399" : "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = local.tags
}

resource "aws_lb_listener" "vxlan" {
  load_balancer_arn = aws_lb.this.arn
  # A GWLB listener has neither: it takes every packet.
  protocol = local.gwlb ? null : "UDP"
  port     = local.gwlb ? null : local.vxlan_port

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.collectors.arn
  }

  tags = local.tags
}
