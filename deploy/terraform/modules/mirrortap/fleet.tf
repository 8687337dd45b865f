# The collectors: a pinned Debian 12 AMI (or yours), user data that installs
# the package and writes the config, and an autoscaling group behind the load
# balancer.

# The AMI is an explicit input, never looked up as "most recent": with
# instance refresh on, an image published by Debian would otherwise roll the
# whole fleet on the next unrelated apply. A pinned SSM parameter path is
# read once per plan and changes only when the operator changes the path.
data "aws_ssm_parameter" "ami" {
  count = var.ami_ssm_parameter == null ? 0 : 1

  name = var.ami_ssm_parameter
}

# Looked up by id for its root device (/dev/xvda, /dev/sda1, ...), where the
# sized, encrypted gp3 volume must go; another name would add a second
# volume and leave the root one at the image's size.
data "aws_ami" "collector" {
  filter {
    name   = "image-id"
    values = [var.ami_id != null ? var.ami_id : try(nonsensitive(data.aws_ssm_parameter.ami[0].value), "")]
  }

  lifecycle {
    precondition {
      condition     = (var.ami_id == null) != (var.ami_ssm_parameter == null)
      error_message = "Set exactly one of ami_id and ami_ssm_parameter (a pinned image; deploy/README.md, \"Upgrades\")."
    }
  }
}

locals {
  ami      = data.aws_ami.collector
  deb_arch = var.architecture == "arm64" ? "arm64" : "amd64"
}

# --- launch template ---------------------------------------------------------

resource "aws_launch_template" "collector" {
  name_prefix            = "${var.name}-collector-"
  image_id               = local.ami.id
  instance_type          = var.instance_type
  key_name               = var.key_name
  vpc_security_group_ids = [aws_security_group.collector.id]
  update_default_version = true

  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tftpl", {
    package_url    = var.package_url == null ? "" : var.package_url
    package_s3_uri = var.package_s3_uri == null ? "" : var.package_s3_uri
    package_sha256 = var.package_sha256
    enable_tap     = var.enable_tap
    enable_ssm     = var.enable_ssm
    # The unit's stop timeout agrees with the drain (and some for the rest).
    stop_timeout_seconds = local.upload_enabled ? local.stop_timeout_seconds : 0
    journal              = local.journal
    region               = local.region
    deb_arch             = local.deb_arch
    collector_config     = local.collector_config
    sessions_config      = local.sessions_enabled ? local.sessions_config : ""
    find_serve           = var.find_serve
    find_serve_listen    = "0.0.0.0:${var.find_serve_port}"
    find_serve_tokens    = local.find_serve_tokens_file
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.collector.arn
  }

  # IMDSv2 only, and not reachable from containers on the host. The
  # collector reads its instance id, role credentials and lifecycle state
  # there; instance_metadata_tags stays off (nothing reads tags).
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

  # The captures' volume: big enough to queue disk_buffer_minutes at the
  # target rate, fast enough to write it and read it back for the upload.
  block_device_mappings {
    device_name = local.ami.root_device_name
    ebs {
      volume_size           = local.disk_size_gb
      volume_type           = "gp3"
      throughput            = local.disk_throughput_mibps
      iops                  = local.disk_iops
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
    precondition {
      condition     = local.disk_throughput_wanted <= 1000
      error_message = "target_network_in_mbps needs ${local.disk_throughput_wanted} MiB/s of gp3 throughput (written, and read again for the upload), more than gp3's 1000: lower target_network_in_mbps so that the group scales out sooner."
    }
    precondition {
      condition     = local.disk_size_gb > local.system_reserve_gib + local.min_free_gib
      error_message = "root_volume_size_gb leaves nothing for captures after the system reserve (${local.system_reserve_gib} GiB) and pcap_min_free_bytes."
    }
  }
}

# --- autoscaling group ---------------------------------------------------------

resource "aws_autoscaling_group" "collectors" {
  # A fixed name: the collector's config names its group for the lifecycle
  # action, and the config is part of the launch template the group uses.
  name                = local.asg_name
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  target_group_arns   = [aws_lb_target_group.collectors.arn]

  # ELB: an instance whose /healthz stays red is replaced. Boot (apt, package,
  # first health checks) takes a few minutes.
  health_check_type         = var.replace_unhealthy ? "ELB" : "EC2"
  health_check_grace_period = var.health_check_grace_seconds
  default_instance_warmup   = 180

  # Group metrics (GroupInServiceInstances, GroupDesiredCapacity, ...) are
  # off unless asked for; the capacity alarms (alarms.tf) read them.
  metrics_granularity = "1Minute"
  enabled_metrics = [
    "GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
    "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances",
  ]

  launch_template {
    id      = aws_launch_template.collector.id
    version = aws_launch_template.collector.latest_version
  }

  # A new launch template version (package, config, AMI) rolls through the
  # group. With min 100 / max 200 each replacement is launched and healthy
  # before the collector it replaces is terminated (and drained, like a
  # scale-in): capacity never drops during a refresh.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.refresh_min_healthy_percentage
      max_healthy_percentage = var.refresh_max_healthy_percentage
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
