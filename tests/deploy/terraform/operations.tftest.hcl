# terraform test of the mirrortap module with a mock aws provider: what an
# AWS-native operator relies on. Nothing rolls the fleet unless its inputs
# change (a pinned AMI, a required package checksum); the role holds exactly
# the calls the programs make; CloudWatch alarms and group metrics exist.
# Run by tests/deploy/terraform_validate.sh.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id         = "vpc-1"
  subnet_ids     = ["subnet-a", "subnet-b"]
  source_cidrs   = ["10.0.0.0/16"]
  package_url    = "https://example.invalid/mirrortap-collector.deb"
  package_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  ami_id         = "ami-0123456789abcdef0"
  mirror_sessions = [
    { network_interface_id = "eni-1", vni = 501, name = "web" },
  ]
  mirror_selectors = [
    { name = "web", select = ["Name=tag:tier,Values=web"], vni = 501 },
  ]

  # Every AWS call the collector and mirrortap-sessions make on the instance
  # role (cloud/s3_client.cpp, cloud/autoscaling.cpp, cloud/cloudwatch.cpp,
  # cloud/ec2.cpp, cloud/ssm.cpp), the SSM agent's for Session Manager, and
  # the journal's PutObject, each with the IAM action it needs
  # (deploy/README.md, "IAM"). The role must grant exactly these actions.
  code_calls = {
    "S3 PutObject"                               = "s3:PutObject"
    "S3 CreateMultipartUpload"                   = "s3:PutObject"
    "S3 UploadPart"                              = "s3:PutObject"
    "S3 CompleteMultipartUpload"                 = "s3:PutObject"
    "S3 AbortMultipartUpload"                    = "s3:AbortMultipartUpload"
    "S3 HeadObject"                              = "s3:GetObject"
    "AutoScaling CompleteLifecycleAction"        = "autoscaling:CompleteLifecycleAction"
    "AutoScaling RecordLifecycleActionHeartbeat" = "autoscaling:RecordLifecycleActionHeartbeat"
    "CloudWatch PutMetricData"                   = "cloudwatch:PutMetricData"
    "EC2 DescribeNetworkInterfaces"              = "ec2:DescribeNetworkInterfaces"
    "EC2 DescribeInstances"                      = "ec2:DescribeInstances"
    "EC2 DescribeTrafficMirrorSessions"          = "ec2:DescribeTrafficMirrorSessions"
    "EC2 DescribeTrafficMirrorTargets"           = "ec2:DescribeTrafficMirrorTargets"
    "EC2 DescribeTrafficMirrorFilters"           = "ec2:DescribeTrafficMirrorFilters"
    "EC2 CreateTrafficMirrorSession"             = "ec2:CreateTrafficMirrorSession"
    "EC2 CreateTrafficMirrorSession tags"        = "ec2:CreateTags"
    "EC2 DeleteTrafficMirrorSession"             = "ec2:DeleteTrafficMirrorSession"
    "SSM GetParameter (selectors)"               = "ssm:GetParameter"
    "SSM agent UpdateInstanceInformation"        = "ssm:UpdateInstanceInformation"
    "Session Manager CreateControlChannel"       = "ssmmessages:CreateControlChannel"
    "Session Manager CreateDataChannel"          = "ssmmessages:CreateDataChannel"
    "Session Manager OpenControlChannel"         = "ssmmessages:OpenControlChannel"
    "Session Manager OpenDataChannel"            = "ssmmessages:OpenDataChannel"
  }
}

run "role_grants_exactly_the_calls_the_code_makes" {
  command = apply

  assert {
    condition = toset(flatten([for d in [
      data.aws_iam_policy_document.upload[0], data.aws_iam_policy_document.lifecycle[0],
      data.aws_iam_policy_document.cloudwatch[0], data.aws_iam_policy_document.sessions[0],
      data.aws_iam_policy_document.ssm[0],
    ] : [for st in d.statement : st.actions]])) == toset(values(var.code_calls))
    error_message = "every statement's actions are called by the code, and every call is granted"
  }
  assert {
    condition     = length(aws_iam_role_policy.ssm) == 1 && !strcontains(aws_iam_role_policy.ssm[0].policy, "AmazonSSMManagedInstanceCore")
    error_message = "an inline Session Manager policy (AmazonSSMManagedInstanceCore would grant ssm:GetParameter* on *)"
  }
  assert {
    condition = alltrue(flatten([for d in [data.aws_iam_policy_document.ssm[0], data.aws_iam_policy_document.sessions[0]] : [
      for st in d.statement : !(anytrue([for a in st.actions : startswith(a, "ssm:GetParameter")]) && contains(st.resources, "*"))
    ]]))
    error_message = "no ssm:GetParameter* on every parameter"
  }
  assert {
    condition = (toset(one(data.aws_iam_policy_document.cloudwatch[0].statement).actions) == toset(["cloudwatch:PutMetricData"])
      && one(one(data.aws_iam_policy_document.cloudwatch[0].statement).condition).variable == "cloudwatch:namespace"
    && toset(one(one(data.aws_iam_policy_document.cloudwatch[0].statement).condition).values) == toset(["Mirrortap"]))
    error_message = "PutMetricData into the collectors' namespace only"
  }
}

run "ami_pinned_by_ssm_parameter" {
  command = apply

  variables {
    ami_id            = null
    ami_ssm_parameter = "/aws/service/debian/release/bookworm/20240717-1811/amd64"
  }

  override_data {
    target = data.aws_ssm_parameter.ami[0]
    values = { value = "ami-0feedfacefeedface" }
  }
  override_data {
    target = data.aws_ami.collector
    values = { id = "ami-0feedfacefeedface", root_device_name = "/dev/xvda" }
  }

  assert {
    condition = (data.aws_ssm_parameter.ami[0].name == "/aws/service/debian/release/bookworm/20240717-1811/amd64"
      && one(data.aws_ami.collector.filter).name == "image-id"
      && toset(one(data.aws_ami.collector.filter).values) == toset(["ami-0feedfacefeedface"])
    && aws_launch_template.collector.image_id == "ami-0feedfacefeedface")
    error_message = "the image is the one the pinned parameter names, looked up by id"
  }
}

run "ami_is_required" {
  command = plan

  variables {
    ami_id = null
  }

  expect_failures = [data.aws_ami.collector]
}

run "ami_parameter_latest_is_refused" {
  command = plan

  variables {
    ami_id            = null
    ami_ssm_parameter = "/aws/service/debian/release/bookworm/latest/amd64"
  }

  expect_failures = [var.ami_ssm_parameter]
}

run "package_sha256_is_required" {
  command = plan

  variables {
    package_sha256 = null
  }

  expect_failures = [var.package_sha256]
}

run "the_user_data_always_checks_the_package" {
  command = apply

  assert {
    condition     = strcontains(base64decode(aws_launch_template.collector.user_data), "echo '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  '\"$deb\" | sha256sum --check --strict")
    error_message = "boot stops unless the .deb matches package_sha256"
  }
}

run "alarms_and_group_metrics" {
  command = apply

  variables {
    alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:pager"]
  }

  assert {
    condition     = toset(aws_autoscaling_group.collectors.enabled_metrics) == toset(["GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]) && aws_autoscaling_group.collectors.metrics_granularity == "1Minute"
    error_message = "the group publishes its metrics (the capacity alarms read them)"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.fleet["unhealthy-targets"].namespace == "AWS/NetworkELB"
      && aws_cloudwatch_metric_alarm.fleet["unhealthy-targets"].metric_name == "UnHealthyHostCount"
      && aws_cloudwatch_metric_alarm.fleet["unhealthy-targets"].dimensions.TargetGroup == aws_lb_target_group.collectors.arn_suffix
      && aws_cloudwatch_metric_alarm.fleet["unhealthy-targets"].dimensions.LoadBalancer == aws_lb.this.arn_suffix
    && aws_cloudwatch_metric_alarm.fleet["unhealthy-targets"].threshold == 0)
    error_message = "an alarm on the NLB's unhealthy collectors"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.fleet["ebs-burst-balance"].metric_name == "EBSByteBalance%"
      && aws_cloudwatch_metric_alarm.fleet["ebs-burst-balance"].dimensions == tomap({ AutoScalingGroupName = "mirrortap-collectors" })
      && aws_cloudwatch_metric_alarm.fleet["ebs-io-balance"].metric_name == "EBSIOBalance%"
      && aws_cloudwatch_metric_alarm.fleet["at-max-capacity"].threshold == 8
    && one([for q in aws_cloudwatch_metric_alarm.capacity_short["capacity-short"].metric_query : q.expression if q.return_data == true]) == "desired - in_service")
    error_message = "EBS burst balance and capacity alarms on the group"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.fleet["packets-dropped"].namespace == "Mirrortap"
      && aws_cloudwatch_metric_alarm.fleet["packets-dropped"].metric_name == "PacketsDropped"
      && aws_cloudwatch_metric_alarm.fleet["packets-dropped"].dimensions == tomap({ Fleet = "mirrortap" })
      && aws_cloudwatch_metric_alarm.fleet["collector-unhealthy"].metric_name == "Healthy"
    && aws_cloudwatch_metric_alarm.fleet["collector-unhealthy"].treat_missing_data == "breaching")
    error_message = "alarms on the collectors' own drops and health"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.fleet["interfaces-not-mirrored"].metric_name == "InterfacesNotMirrored"
      && aws_cloudwatch_metric_alarm.fleet["interfaces-not-mirrored"].dimensions == tomap({ Fleet = "mirrortap" })
    && strcontains(base64decode(aws_launch_template.collector.user_data), "cloudwatch_namespace: Mirrortap\ncloudwatch_fleet: mirrortap\n"))
    error_message = "with selectors, mirrortap-sessions sends its coverage and an alarm watches what is not mirrored"
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.fleet : a.alarm_actions == toset(var.alarm_actions) && a.ok_actions == toset(var.alarm_actions)])
    error_message = "every alarm notifies alarm_actions, firing and clearing"
  }
  assert {
    condition     = strcontains(output.collector_config, "\ncloudwatch:\n  namespace: Mirrortap\n  region: eu-west-1\n  fleet: mirrortap\n")
    error_message = "the collectors publish under the alarms' namespace and Fleet dimension"
  }
}

run "prometheus_jobs_take_the_fleets_region" {
  command = apply

  assert {
    condition = (yamldecode(output.prometheus_scrape_configs)[0].ec2_sd_configs[0].region == "eu-west-1"
      && yamldecode(output.prometheus_scrape_configs)[0].relabel_configs[0].replacement == "$${1}:9478"
    && yamldecode(output.prometheus_scrape_configs)[1].ec2_sd_configs[0].port == 9479)
    error_message = "the scrape jobs carry the fleet's region and ports, not a hard-coded one"
  }
}

run "journal_shipped_beside_the_captures" {
  command = apply

  assert {
    condition = (strcontains(base64decode(aws_launch_template.collector.user_data), "MIRRORTAP_JOURNAL_URL=%s\\nAWS_DEFAULT_REGION=%s\\n' 's3://mirrortap-captures-0001/mirrortap/journal' 'eu-west-1'")
      && strcontains(base64decode(aws_launch_template.collector.user_data), "OnUnitActiveSec=%sm\\n' '5'")
    && strcontains(base64decode(aws_launch_template.collector.user_data), "systemctl enable --now mirrortap-journal-ship.timer mirrortap-journal-ship-final.service"))
    error_message = "the journal goes to PREFIX/journal every journal_ship_minutes"
  }
}

run "no_cloudwatch_metrics_no_grant_no_own_alarms" {
  command = apply

  variables {
    cloudwatch_metrics = false
    ship_journal       = false
  }

  assert {
    condition = (length(aws_iam_role_policy.cloudwatch) == 0 && !contains(keys(aws_cloudwatch_metric_alarm.fleet), "packets-dropped")
      && contains(keys(aws_cloudwatch_metric_alarm.fleet), "unhealthy-targets") && !strcontains(output.collector_config, "cloudwatch:")
    && !strcontains(base64decode(aws_launch_template.collector.user_data), "journal"))
    error_message = "opting out removes the grant, the config section and the alarms on the collectors' own figures"
  }
}
