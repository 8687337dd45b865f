# What an operator with only the AWS console sees: CloudWatch alarms on the
# load balancer's view of the collectors, the group's capacity, the
# instances' EBS burst balance and, with cloudwatch_metrics, the collectors'
# own figures (drops, health). Each notifies alarm_actions when it fires and
# when it clears.

locals {
  lb_namespace = local.gwlb ? "AWS/GatewayELB" : "AWS/NetworkELB"
  asg_dims     = { AutoScalingGroupName = local.asg_name }
  fleet_dims   = { Fleet = var.name }

  alarms = merge({
    # The load balancer's health check (/healthz) fails on a collector: its
    # queues or disk are full, a worker died, or it is not up yet.
    unhealthy-targets = {
      description = "A collector fails the load balancer's /healthz check: it receives nothing until it recovers or the group replaces it."
      namespace   = local.lb_namespace
      metric      = "UnHealthyHostCount"
      dimensions  = { TargetGroup = aws_lb_target_group.collectors.arn_suffix, LoadBalancer = aws_lb.this.arn_suffix }
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 3
      missing     = "notBreaching"
    }
    # Scaled to max_size and still in service there: target tracking cannot
    # add a collector, so a rise in mirrored traffic becomes drops.
    at-max-capacity = {
      description = "The group is at max_size: more mirrored traffic cannot be spread further (raise max_size)."
      namespace   = "AWS/AutoScaling"
      metric      = "GroupInServiceInstances"
      dimensions  = local.asg_dims
      statistic   = "Minimum"
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = var.max_size
      periods     = 15
      missing     = "notBreaching"
    }
    }, {
    # A collector's instance out of EBS burst, bytes (EBSByteBalance%) or I/O
    # operations (EBSIOBalance%, which many sessions' small writes empty
    # first): at the baseline the pcap writer falls behind and records drop.
    for name, metric in { ebs-burst-balance = "EBSByteBalance%", ebs-io-balance = "EBSIOBalance%" } : name => {
      description                           = "A collector's EBS burst balance (${metric}) is low: at the baseline its disk cannot keep up with the capture rate."
      namespace                             = "AWS/EC2"
      metric                                = metric
      dimensions                            = local.asg_dims
      statistic                             = "Minimum"
      comparison                            = "LessThanThreshold"
      threshold                             = var.alarm_ebs_balance_percent
      periods                               = 5
      missing                               = "notBreaching"
    }
    }, !var.cloudwatch_metrics ? {} : {
    # The collectors' own counts (cloudwatch.* in their config): any packet
    # lost on its way to a file, whatever the reason.
    packets-dropped = {
      description = "Collectors dropped mirrored packets (PacketsDropped by Reason in the ${var.cloudwatch_namespace} namespace says why)."
      namespace   = var.cloudwatch_namespace
      metric      = "PacketsDropped"
      dimensions  = local.fleet_dims
      statistic   = "Sum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 5
      missing     = "notBreaching"
    }
    # Every collector says Healthy = 1 each minute; no figure at all means no
    # collector is publishing, which is as bad.
    collector-unhealthy = {
      description = "A collector reports itself unhealthy (or none reports at all)."
      namespace   = var.cloudwatch_namespace
      metric      = "Healthy"
      dimensions  = local.fleet_dims
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 1
      periods     = 3
      missing     = "breaching"
    }
    }, !(var.cloudwatch_metrics && local.sessions_enabled) ? {} : {
    # mirrortap-sessions' coverage: an interface a selector names that has
    # no session (AWS cannot mirror its type, 3 sessions already, a quota).
    interfaces-not-mirrored = {
      description = "Interfaces the mirror_selectors name are not mirrored (mirrortap-sessions says why; InterfacesNotMirrored by Selector)."
      namespace   = var.cloudwatch_namespace
      metric      = "InterfacesNotMirrored"
      dimensions  = local.fleet_dims
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      periods     = 10
      missing     = "notBreaching"
    }
  })
}

resource "aws_cloudwatch_metric_alarm" "fleet" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = 60
  evaluation_periods  = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

# Fewer collectors in service than the group wants, for longer than a boot
# takes: launches fail (capacity, quota, a bad AMI or package) or instances
# are replaced as fast as they come.
resource "aws_cloudwatch_metric_alarm" "capacity_short" {
  for_each = { capacity-short = true }

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Fewer collectors in service than desired for 15 minutes: launches fail or instances keep being replaced."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 15
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "short"
    expression  = "desired - in_service"
    label       = "collectors missing"
    return_data = true
  }
  metric_query {
    id = "desired"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupDesiredCapacity"
      dimensions  = local.asg_dims
      stat        = "Maximum"
      period      = 60
    }
  }
  metric_query {
    id = "in_service"
    metric {
      namespace   = "AWS/AutoScaling"
      metric_name = "GroupInServiceInstances"
      dimensions  = local.asg_dims
      stat        = "Minimum"
      period      = 60
    }
  }
}
