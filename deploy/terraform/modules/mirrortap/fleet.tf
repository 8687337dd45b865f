# The collectors: official Debian 12 AMI, user data that installs the package
# and writes the config, and an autoscaling group behind the NLB.

data "aws_ami" "debian12" {
  # Debian's own AWS account publishes the official images.
  owners      = ["136693071363"]
  most_recent = true

  filter {
    name   = "name"
    values = [var.architecture == "arm64" ? "debian-12-arm64-*" : "debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = [var.architecture]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

# --- instance role: nothing by default -------------------------------------
# The collector calls no AWS API. The role exists so that the two optional
# grants below have somewhere to go: read the one package object, and Session
# Manager access.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "collector" {
  name_prefix        = "${var.name}-collector-"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = local.tags
}

locals {
  package_s3_parts = var.package_s3_uri == null ? null : regex("^s3://([^/]+)/(.+)$", var.package_s3_uri)
}

data "aws_iam_policy_document" "read_package" {
  count = var.package_s3_uri == null ? 0 : 1

  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${local.package_s3_parts[0]}/${local.package_s3_parts[1]}"]
  }
}

resource "aws_iam_role_policy" "read_package" {
  count = var.package_s3_uri == null ? 0 : 1

  name   = "read-mirrortap-package"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.read_package[0].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  count = var.enable_ssm ? 1 : 0

  role       = aws_iam_role.collector.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "collector" {
  name_prefix = "${var.name}-collector-"
  role        = aws_iam_role.collector.name
  tags        = local.tags
}

# --- launch template ---------------------------------------------------------

resource "aws_launch_template" "collector" {
  name_prefix            = "${var.name}-collector-"
  image_id               = coalesce(var.ami_id, data.aws_ami.debian12.id)
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.collector.id]
  update_default_version = true

  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tftpl", {
    package_url      = var.package_url == null ? "" : var.package_url
    package_s3_uri   = var.package_s3_uri == null ? "" : var.package_s3_uri
    package_sha256   = var.package_sha256 == null ? "" : var.package_sha256
    enable_tap       = var.enable_tap
    collector_config = local.collector_config
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.collector.arn
  }

  # IMDSv2 only, and not reachable from containers on the host.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # One-minute metrics: target tracking on network-in reacts in minutes, not
  # quarter hours.
  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = data.aws_ami.debian12.root_device_name
    ebs {
      volume_size           = var.root_volume_size_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  # deploy/prometheus/prometheus.yml finds collectors by these two tags.
  tag_specifications {
    resource_type = "instance"
    tags = merge(local.tags, {
      Name                     = "${var.name}-collector"
      "mirrortap-role"         = "collector"
      "mirrortap-metrics-port" = tostring(var.metrics_port)
    })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = "${var.name}-collector" })
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = (var.package_url == null) != (var.package_s3_uri == null)
      error_message = "Set exactly one of package_url and package_s3_uri."
    }
  }
}

# --- autoscaling group ---------------------------------------------------------

resource "aws_autoscaling_group" "collectors" {
  name_prefix         = "${var.name}-collectors-"
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  target_group_arns   = [aws_lb_target_group.collectors.arn]

  # ELB: an instance whose /healthz stays red is replaced. Boot (apt, package,
  # first health checks) takes a few minutes.
  health_check_type         = var.replace_unhealthy ? "ELB" : "EC2"
  health_check_grace_period = 300
  default_instance_warmup   = 180

  launch_template {
    id      = aws_launch_template.collector.id
    version = aws_launch_template.collector.latest_version
  }

  # A new launch template version (package, config, AMI) rolls through the
  # group a few instances at a time; each old one is drained like a scale-in.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.refresh_min_healthy_percentage
      instance_warmup        = 180
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${var.name}-collector" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    # Target tracking owns the desired capacity.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "track" {
  name                   = "${var.name}-${replace(var.scaling_metric, "_", "-")}"
  autoscaling_group_name = aws_autoscaling_group.collectors.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = var.scaling_metric == "cpu" ? "ASGAverageCPUUtilization" : "ASGAverageNetworkIn"
    }
    # ASGAverageNetworkIn is bytes per instance per metric period, one minute
    # with detailed monitoring.
    target_value     = var.scaling_metric == "cpu" ? var.target_cpu_percent : var.target_network_in_mbps * 1000000 / 8 * 60
    disable_scale_in = var.disable_scale_in
  }
}

# Scale-in and instance refresh: the ASG first deregisters the instance and
# waits out the NLB's deregistration delay, then holds it here before
# terminating. Shutdown then sends SIGTERM and the collector closes its files.
resource "aws_autoscaling_lifecycle_hook" "drain" {
  count = var.termination_grace_seconds > 0 ? 1 : 0

  name                   = "${var.name}-drain"
  autoscaling_group_name = aws_autoscaling_group.collectors.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = max(var.termination_grace_seconds, 30)
  default_result         = "CONTINUE"
}
