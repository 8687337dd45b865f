# Mirroring that follows the fleet (var.mirror_selectors): mirrortap-sessions
# runs on every collector (a service reconciling every minute, jittered),
# reads the selectors from an SSM parameter at every run, and keeps a session
# to this module's target for every network interface they name.
#
# Why an SSM parameter: the selectors must change without changing the launch
# template (which would replace every collector). A tag on the target holds
# 256 characters, too few; the capture bucket exists only with uploads. The
# parameter is one resource, versioned by SSM, read with one grant on its ARN.
# The user data names only the parameter, never its value.

locals {
  sessions_enabled    = length(var.mirror_selectors) > 0
  selectors_parameter = "/${var.name}/mirrortap-sessions/selectors"
  mirror_target_arns  = local.gwlb ? values(local.mirror_target_arn_by_az) : aws_ec2_traffic_mirror_target.this[*].arn
  # Behind an NLB one selector is one target. Behind a GWLB each selector is
  # split by zone (NAME:ZONE, plus an availability-zone filter), so that every
  # interface gets the target of its own zone, as AWS requires.
  expanded_selectors = local.gwlb ? flatten([for s in var.mirror_selectors : [
    for az, target in local.mirror_target_by_az : merge(s, {
      name   = "${s.name}:${az}"
      select = concat(s.select, ["Name=availability-zone,Values=${az}"])
      target = target
    })
  ]]) : [for s in var.mirror_selectors : merge(s, { target = local.nlb_target_id })]
  ec2_arn_prefix = "arn:${local.partition}:ec2:${local.region}:${data.aws_caller_identity.current.account_id}"

  # /etc/mirrortap/sessions.yaml: nothing in it depends on the selectors.
  sessions_config = templatefile("${path.module}/templates/sessions.yaml.tftpl", {
    region               = local.region
    selectors_parameter  = local.selectors_parameter
    metrics_port         = var.sessions_metrics_port
    cloudwatch_namespace = var.cloudwatch_metrics ? var.cloudwatch_namespace : ""
    cloudwatch_fleet     = var.name
  })
}

resource "aws_ssm_parameter" "selectors" {
  count = local.sessions_enabled ? 1 : 0

  name        = local.selectors_parameter
  description = "mirrortap-sessions selectors of ${var.name} (mirror_selectors)"
  type        = "String"
  # Standard up to 4 KB, Advanced beyond, as the value needs.
  tier = "Intelligent-Tiering"
  value = yamlencode({
    selectors = [for s in local.expanded_selectors : merge({
      name           = s.name
      select         = s.select
      target         = s.target
      filter         = aws_ec2_traffic_mirror_filter.this.id
      vni            = s.vni
      session_number = s.session_number
    }, s.packet_length == null ? {} : { packet_length = s.packet_length })]
  })
  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.expanded_selectors) > 0 && alltrue([for s in local.expanded_selectors : s.target != null && length(s.name) <= 64])
      error_message = "mirror_selectors need this module's mirror targets: with target_type = \"gwlb\" keep create_gwlb_endpoint true (and keep selector names short enough for NAME:ZONE to fit 64 characters)."
    }
  }
}

# Least privilege. Describe calls cannot be narrowed to resources. A create
# is allowed only to this module's target and filter, only with the
# mirrortap:selector tag (and no other), tags only as part of the create;
# deletes only of sessions that carry the tag: sessions made by anyone else
# are out of reach, whatever the program does.
data "aws_iam_policy_document" "sessions" {
  count = local.sessions_enabled ? 1 : 0

  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeInstances",
      "ec2:DescribeTrafficMirrorSessions",
      "ec2:DescribeTrafficMirrorTargets",
      "ec2:DescribeTrafficMirrorFilters",
    ]
    resources = ["*"]
  }

  statement {
    sid     = "CreateToThisTarget"
    actions = ["ec2:CreateTrafficMirrorSession"]
    resources = concat(local.mirror_target_arns, [
      aws_ec2_traffic_mirror_filter.this.arn,
      "${local.ec2_arn_prefix}:network-interface/*",
    ])
  }

  statement {
    sid       = "CreateTaggedSessions"
    actions   = ["ec2:CreateTrafficMirrorSession"]
    resources = ["${local.ec2_arn_prefix}:traffic-mirror-session/*"]
    condition {
      test     = "Null"
      variable = "aws:RequestTag/mirrortap:selector"
      values   = ["false"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["mirrortap:selector"]
    }
  }

  statement {
    sid       = "TagOnlyAtCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn_prefix}:traffic-mirror-session/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateTrafficMirrorSession"]
    }
  }

  statement {
    sid       = "DeleteOwnSessions"
    actions   = ["ec2:DeleteTrafficMirrorSession"]
    resources = ["${local.ec2_arn_prefix}:traffic-mirror-session/*"]
    condition {
      test     = "Null"
      variable = "aws:ResourceTag/mirrortap:selector"
      values   = ["false"]
    }
  }

  statement {
    sid       = "ReadSelectors"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.selectors[0].arn]
  }
}

resource "aws_iam_role_policy" "sessions" {
  count = local.sessions_enabled ? 1 : 0

  name   = "keep-mirrortap-sessions"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.sessions[0].json
}

resource "aws_vpc_security_group_ingress_rule" "sessions_metrics_from_monitoring" {
  for_each = local.sessions_enabled ? toset(var.monitoring_cidrs) : toset([])

  security_group_id = aws_security_group.collector.id
  description       = "Prometheus scrapes of mirrortap-sessions' /metrics (mirror coverage)"
  ip_protocol       = "tcp"
  from_port         = var.sessions_metrics_port
  to_port           = var.sessions_metrics_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}
