# terraform test of the mirrortap module with a mock aws provider (no AWS
# call, no credentials): target_type = "nlb", both flow affinities, uploads to
# a created or an existing bucket or none, operator access, disk sizing,
# custom AMIs and IPv6. Run by tests/deploy/terraform_validate.sh, which
# copies this file into the module's tests/ directory.

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
    { network_interface_id = "eni-2", vni = 501, name = "web" },
    { network_interface_id = "eni-3", vni = 7, name = "db" },
  ]
}

run "nlb_default_affinity_uploads_to_a_new_bucket" {
  command = apply

  assert {
    condition     = aws_lb.this.load_balancer_type == "network" && aws_lb.this.internal == true
    error_message = "an internal NLB"
  }
  assert {
    condition = (aws_lb_target_group.collectors.protocol == "UDP" && aws_lb_target_group.collectors.port == 4789
    && length(aws_lb_target_group.collectors.stickiness) == 0)
    error_message = "UDP 4789 target group, no stickiness with flow_affinity none"
  }
  assert {
    condition     = aws_ec2_traffic_mirror_target.this[0].network_load_balancer_arn == aws_lb.this.arn
    error_message = "the mirror target is the NLB"
  }

  # The bucket: SSE, public access blocked, captures expire, stray parts go.
  assert {
    condition = (aws_s3_bucket_public_access_block.captures[0].block_public_acls && aws_s3_bucket_public_access_block.captures[0].block_public_policy
    && aws_s3_bucket_public_access_block.captures[0].ignore_public_acls && aws_s3_bucket_public_access_block.captures[0].restrict_public_buckets)
    error_message = "public access blocked"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.captures[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "SSE-S3 by default"
  }
  assert {
    condition = (one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule : r.expiration[0].days if r.id == "expire-captures"]) == 30
    && one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule : r.filter[0].prefix if r.id == "expire-captures"]) == "mirrortap/")
    error_message = "captures under the prefix expire after capture_retention_days"
  }
  assert {
    condition = one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule :
    r.abort_incomplete_multipart_upload[0].days_after_initiation if r.id == "abort-incomplete-uploads"]) > 0
    error_message = "incomplete multipart uploads are aborted"
  }

  # The role may do what the uploader calls under the prefix, and nothing
  # else in S3: HeadObject (the recovery after a lost Complete answer) needs
  # s3:GetObject; nothing lists the bucket.
  assert {
    condition = (toset(data.aws_iam_policy_document.upload[0].statement[0].actions) == toset(["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"])
    && toset(data.aws_iam_policy_document.upload[0].statement[0].resources) == toset(["arn:aws:s3:::mirrortap-captures-0001/mirrortap/*"]))
    error_message = "PutObject, AbortMultipartUpload and GetObject (HeadObject) on PREFIX/* of the bucket, nothing more"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.upload[0].statement) == 1 && aws_iam_role_policy.upload[0].role == aws_iam_role.collector.id
    error_message = "the upload policy has exactly that statement (no ListBucket, no KMS for an SSE-S3 bucket), on the collector's role"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.lifecycle[0].statement[0].actions) == toset(["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"])
    && toset(data.aws_iam_policy_document.lifecycle[0].statement[0].resources) == toset(["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/mirrortap-collectors"]))
    error_message = "lifecycle actions on its own group only"
  }
  assert {
    condition     = aws_autoscaling_group.collectors.name == "mirrortap-collectors"
    error_message = "the group has the name the policy and the config give"
  }

  # One drain figure: the hook is drain + margin, the config's lifecycle and
  # upload drains are the drain, the unit's stop timeout drain + 30 s.
  assert {
    condition = (aws_autoscaling_lifecycle_hook.drain.heartbeat_timeout == 420
    && aws_autoscaling_lifecycle_hook.drain.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING")
    error_message = "termination hook timeout = drain_seconds + lifecycle_margin_seconds"
  }
  assert {
    condition = alltrue([for line in [
      "upload:", "  url: s3://mirrortap-captures-0001/mirrortap", "  region: eu-west-1",
      "  delete_after_upload: true", "lifecycle:", "  hook_name: ${aws_autoscaling_lifecycle_hook.drain.name}",
      "  group_name: ${aws_autoscaling_group.collectors.name}", "  poll_seconds: 5",
      "allowed_vnis: [501, 7]", "listen: 0.0.0.0:4789",
    ] : contains(split("\n", output.collector_config), line)])
    error_message = "rendered config: upload and lifecycle sections, only the sessions' VNIs"
  }
  assert {
    condition = (length(regexall("(?m)^  drain_seconds: 300$", output.collector_config)) == 2
      && strcontains(output.collector_config, "lifecycle:\n  hook_name: mirrortap-drain\n  group_name: mirrortap-collectors\n  region: eu-west-1\n  poll_seconds: 5\n  drain_seconds: 300\n  heartbeat_seconds: 300\n")
    && output.drain == { drain_seconds = 300, lifecycle_hook_timeout = 420, unit_stop_timeout = 330, upload_drain_seconds = 300, lifecycle_drain_seconds = 300 })
    error_message = "upload.drain_seconds and lifecycle.drain_seconds are both drain_seconds (not the collector's 1800 default); no heartbeat stretches the hold"
  }
  assert {
    condition     = !strcontains(output.collector_config, "listen_geneve") && !strcontains(output.collector_config, "storage_class")
    error_message = "no GENEVE listener behind an NLB; no storage class unless asked"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.collector.user_data), output.collector_config)
    error_message = "the user data writes the rendered config"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.collector.user_data), "TimeoutStopSec=%ss\\n' '330'")
    error_message = "the unit waits for the drain on stop (drain + 30 s)"
  }

  # The S3 gateway endpoint on the subnets' route tables, and egress to it.
  assert {
    condition = (aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.eu-west-1.s3"
    && toset(aws_vpc_endpoint.s3[0].route_table_ids) == toset(["rtb-0private"]))
    error_message = "gateway endpoint for S3 on the subnets' route tables"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.collector_s3[0].prefix_list_id == aws_vpc_endpoint.s3[0].prefix_list_id
    error_message = "collectors may reach the S3 prefix list"
  }

  # Fleet mechanics: launch before terminate; the grace period.
  assert {
    condition = (one(one(aws_autoscaling_group.collectors.instance_refresh).preferences).min_healthy_percentage == 100
    && one(one(aws_autoscaling_group.collectors.instance_refresh).preferences).max_healthy_percentage == 200)
    error_message = "instance refresh launches before it terminates (min 100, max 200)"
  }
  assert {
    condition     = aws_autoscaling_group.collectors.health_check_grace_period == 300 && output.health_check_grace_seconds == 300
    error_message = "health check grace period from health_check_grace_seconds"
  }

  # Operator access: SSM by default, no SSH; Session Manager's calls only,
  # no ssm:GetParameter* on every parameter.
  assert {
    condition = (length(aws_iam_role_policy.ssm) == 1
      && toset(flatten([for st in data.aws_iam_policy_document.ssm[0].statement : st.actions])) == toset([
        "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"])
    && strcontains(base64decode(aws_launch_template.collector.user_data), "https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/debian_amd64/amazon-ssm-agent.deb"))
    error_message = "SSM agent installed; the role has Session Manager's calls and no managed policy"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.collector_ssh_from_admins) == 0 && aws_launch_template.collector.key_name == null
    error_message = "no key pair, no SSH"
  }

  # Disk from the target rate: 2000 Mbit/s = 238.4 MiB/s written and read
  # back, +25%: 597 MiB/s; 30 minutes of it (420 GiB) + 8 system + 2 floor.
  assert {
    condition = (one(one(aws_launch_template.collector.block_device_mappings).ebs).throughput == 597
      && one(one(aws_launch_template.collector.block_device_mappings).ebs).volume_size == 430
      && one(one(aws_launch_template.collector.block_device_mappings).ebs).iops == 3000
    && one(aws_launch_template.collector.block_device_mappings).device_name == "/dev/xvda")
    error_message = "gp3 sized from target_network_in_mbps on the AMI's root device"
  }
  assert {
    condition     = output.pcap_retain_total_bytes == "420G" && contains(split("\n", output.collector_config), "  retain_total_bytes: 420G")
    error_message = "retain_total_bytes = volume - system reserve - min_free"
  }

  # IPv4-only VPC: no IPv6 rule.
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.collector_web : r.cidr_ipv6 == null])
    error_message = "no ::/0 egress in a VPC without IPv6"
  }
}

run "nlb_source_ip_affinity" {
  command = apply

  variables {
    flow_affinity = "source_ip"
  }

  assert {
    condition     = one(aws_lb_target_group.collectors.stickiness).type == "source_ip" && one(aws_lb_target_group.collectors.stickiness).enabled
    error_message = "stickiness by source IP"
  }
  assert {
    condition     = output.flow_affinity == "source_ip"
    error_message = "output flow_affinity"
  }
}

run "existing_bucket_nested_prefix_storage_class" {
  command = apply

  variables {
    create_capture_bucket = false
    capture_bucket_name   = "corp-pcaps"
    capture_prefix        = "net/mirror"
    upload_storage_class  = "STANDARD_IA"
    drain_seconds         = 900
    capture_kms_key_arn   = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = length(aws_s3_bucket.captures) == 0 && length(aws_s3_bucket_lifecycle_configuration.captures) == 0
    error_message = "an existing bucket is used as it is"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.upload[0].statement[0].resources) == toset(["arn:aws:s3:::corp-pcaps/net/mirror/*"])
      && toset(data.aws_iam_policy_document.upload[0].statement[1].actions) == toset(["kms:GenerateDataKey", "kms:Decrypt"])
      && toset(data.aws_iam_policy_document.upload[0].statement[1].resources) == toset([var.capture_kms_key_arn])
    && toset(one(data.aws_iam_policy_document.upload[0].statement[1].condition).values) == toset(["s3.eu-west-1.amazonaws.com"]))
    error_message = "the policy names the existing bucket and the prefix; its SSE-KMS key for data keys and their decryption (multipart), through S3 only"
  }
  assert {
    condition = (aws_autoscaling_lifecycle_hook.drain.heartbeat_timeout == 1020
      && contains(split("\n", output.collector_config), "  url: s3://corp-pcaps/net/mirror")
      && contains(split("\n", output.collector_config), "  storage_class: STANDARD_IA")
      && length(regexall("(?m)^  drain_seconds: 900$", output.collector_config)) == 2
    && strcontains(base64decode(aws_launch_template.collector.user_data), "TimeoutStopSec=%ss\\n' '930'"))
    error_message = "hook = drain + margin; the config's url, storage class, both drains; the unit's stop timeout"
  }
}

run "no_upload_keeps_the_grace_hook" {
  command = apply

  variables {
    create_capture_bucket = false
  }

  assert {
    condition = (length(aws_iam_role_policy.upload) == 0 && length(aws_iam_role_policy.lifecycle) == 0
    && !strcontains(output.collector_config, "upload:") && !strcontains(output.collector_config, "lifecycle:"))
    error_message = "no bucket, no upload grant, no upload or lifecycle section"
  }
  assert {
    condition = (aws_autoscaling_lifecycle_hook.drain.heartbeat_timeout == 420 && output.capture_url == null
    && !strcontains(base64decode(aws_launch_template.collector.user_data), "TimeoutStopSec") && output.drain.unit_stop_timeout == 90)
    error_message = "the hook holds a drained collector for the same drain figure (+ margin); the unit keeps its stop timeout"
  }
  # Without upload the disk is written only: 238.4 MiB/s + 25% = 299.
  assert {
    condition     = one(one(aws_launch_template.collector.block_device_mappings).ebs).throughput == 299
    error_message = "throughput without the read-back"
  }
}

run "ssh_instead_of_ssm_custom_ami_ipv6" {
  command = apply

  variables {
    enable_ssm       = false
    key_name         = "ops"
    admin_cidrs      = ["192.0.2.0/24", "2001:db8:ff::/48"]
    ami_id           = "ami-0c0ffee0c0ffee000"
    source_cidrs     = ["10.0.0.0/16", "2001:db8:1::/64"]
    monitoring_cidrs = ["2001:db8:2::/64"]
    allowed_vnis     = ["501", "7", "1000-1999"]
  }

  override_data {
    target = data.aws_ami.collector
    values = { id = "ami-0c0ffee0c0ffee000", root_device_name = "/dev/sda1" }
  }
  override_data {
    target = data.aws_vpc.this
    values = { ipv6_cidr_block = "2001:db8::/56" }
  }

  assert {
    condition     = length(aws_iam_role_policy.ssm) == 0 && !strcontains(base64decode(aws_launch_template.collector.user_data), "amazon-ssm-agent")
    error_message = "no SSM when enable_ssm is false"
  }
  assert {
    condition = (aws_launch_template.collector.key_name == "ops"
      && aws_vpc_security_group_ingress_rule.collector_ssh_from_admins["192.0.2.0/24"].cidr_ipv4 == "192.0.2.0/24"
    && aws_vpc_security_group_ingress_rule.collector_ssh_from_admins["2001:db8:ff::/48"].cidr_ipv6 == "2001:db8:ff::/48")
    error_message = "key pair and SSH from admin_cidrs, IPv4 and IPv6"
  }
  assert {
    condition = (aws_launch_template.collector.image_id == "ami-0c0ffee0c0ffee000"
      && toset(one(data.aws_ami.collector.filter).values) == toset(["ami-0c0ffee0c0ffee000"]) && length(data.aws_ssm_parameter.ami) == 0
    && one(aws_launch_template.collector.block_device_mappings).device_name == "/dev/sda1")
    error_message = "a custom AMI's own root device name"
  }
  assert {
    condition = (aws_vpc_security_group_egress_rule.collector_web["::/0:443"].cidr_ipv6 == "::/0"
      && aws_vpc_security_group_ingress_rule.collector_vxlan_from_sources["2001:db8:1::/64"].cidr_ipv6 == "2001:db8:1::/64"
      && aws_vpc_security_group_ingress_rule.nlb_vxlan_from_sources["2001:db8:1::/64"].cidr_ipv6 == "2001:db8:1::/64"
    && aws_vpc_security_group_ingress_rule.collector_metrics_from_monitoring["2001:db8:2::/64"].cidr_ipv6 == "2001:db8:2::/64")
    error_message = "IPv6 rules where the VPC has IPv6"
  }
  assert {
    condition     = contains(split("\n", output.collector_config), "allowed_vnis: [501, 7, 1000-1999]")
    error_message = "allowed_vnis as told"
  }
}

run "disk_too_slow_for_the_target_rate" {
  command = plan

  variables {
    target_network_in_mbps = 4000
  }

  expect_failures = [aws_launch_template.collector]
}

run "fixed_volume_and_budget" {
  command = apply

  variables {
    root_volume_size_gb     = 200
    pcap_min_free_bytes     = "4096M"
    target_network_in_mbps  = 500
    pcap_retain_total_bytes = null
  }

  # 500 Mbit/s: 59.6 MiB/s x 2 x 1.25 = 150 MiB/s (rounded up); 200 - 8 - 4 = 188 GiB.
  assert {
    condition = (one(one(aws_launch_template.collector.block_device_mappings).ebs).volume_size == 200
      && one(one(aws_launch_template.collector.block_device_mappings).ebs).throughput == 150
    && output.pcap_retain_total_bytes == "188G")
    error_message = "a fixed volume keeps its size; the budget follows it"
  }
}
