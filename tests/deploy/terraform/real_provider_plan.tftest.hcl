# The whole module planned by the real aws provider, offline: dummy
# credentials, every skip_* set, and the data sources (the only calls a plan
# makes to AWS) overridden. Unlike the mock provider, this runs the provider's
# own plan-time checks of every resource, for both target types and both flow
# affinities. Run by tests/deploy/terraform_validate.sh.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

override_data {
  target = data.aws_caller_identity.current
  values = { account_id = "123456789012" }
}
override_data {
  target = data.aws_ami.collector
  values = { id = "ami-0debian12", root_device_name = "/dev/xvda" }
}
override_data {
  target = data.aws_vpc.this
  values = { ipv6_cidr_block = "2001:db8::/56" }
}
override_data {
  target = data.aws_route_table.subnet["subnet-a"]
  values = { id = "rtb-0a" }
}
override_data {
  target = data.aws_route_table.subnet["subnet-b"]
  values = { id = "rtb-0b" }
}
override_data {
  target = data.aws_subnet.lb["subnet-a"]
  values = { cidr_block = "10.0.1.0/24", availability_zone = "eu-west-1a" }
}
override_data {
  target = data.aws_subnet.lb["subnet-b"]
  values = { cidr_block = "10.0.2.0/24", availability_zone = "eu-west-1b" }
}
override_data {
  target = data.aws_network_interface.source["eni-1"]
  values = { availability_zone = "eu-west-1b" }
}
override_data {
  target = data.aws_iam_policy_document.assume_ec2
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
override_data {
  target = data.aws_iam_policy_document.upload[0]
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
override_data {
  target = data.aws_iam_policy_document.ssm[0]
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
override_data {
  target = data.aws_iam_policy_document.cloudwatch[0]
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
override_data {
  target = data.aws_iam_policy_document.lifecycle[0]
  values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

variables {
  vpc_id         = "vpc-1"
  subnet_ids     = ["subnet-a", "subnet-b"]
  source_cidrs   = ["10.0.0.0/16", "2001:db8:1::/64"]
  package_url    = "https://example.invalid/mirrortap-collector.deb"
  package_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  ami_id         = "ami-0123456789abcdef0"
  key_name       = "ops"
  admin_cidrs    = ["192.0.2.0/24"]
  mirror_sessions = [
    { network_interface_id = "eni-1", vni = 501, name = "web" },
  ]
}

run "nlb_none" {
  command = plan
  assert {
    condition     = aws_lb.this.load_balancer_type == "network" && aws_lb_target_group.collectors.protocol == "UDP"
    error_message = "NLB, UDP"
  }
}

run "nlb_source_ip" {
  command = plan
  variables {
    flow_affinity = "source_ip"
  }
  assert {
    condition     = one(aws_lb_target_group.collectors.stickiness).type == "source_ip"
    error_message = "source_ip stickiness"
  }
}

run "gwlb_none" {
  command = plan
  variables {
    target_type = "gwlb"
  }
  assert {
    condition     = aws_lb.this.load_balancer_type == "gateway" && aws_lb_target_group.collectors.protocol == "GENEVE" && one(aws_lb_target_group.collectors.health_check).matcher == "200-399"
    error_message = "GWLB, GENEVE, the matcher ELBv2 takes for it"
  }
}

run "gwlb_source_ip" {
  command = plan
  variables {
    target_type   = "gwlb"
    flow_affinity = "source_ip"
  }
  assert {
    condition     = one(aws_lb_target_group.collectors.stickiness).type == "source_ip_dest_ip"
    error_message = "source_ip_dest_ip stickiness"
  }
}

# The capture bucket as evidence storage (evidence.tftest.hcl has the
# behaviour): the provider's own checks of Object Lock, versioning, the
# bucket policy, SSE-KMS with a key made here, access logs, the lifecycle.
run "evidence_bucket" {
  command = plan
  variables {
    capture_object_lock       = true
    capture_object_lock_mode  = "COMPLIANCE"
    capture_object_lock_days  = 30
    capture_retention_days    = 90
    create_capture_kms_key    = true
    capture_access_log_bucket = "corp-s3-access-logs"
  }
  assert {
    condition     = aws_s3_bucket.captures[0].object_lock_enabled && aws_kms_key.captures[0].enable_key_rotation
    error_message = "a locked bucket, a rotating key"
  }
}

# The bucket policy as the provider renders it, for a named bucket and a
# given key (all known at plan): four Deny statements, and each upload Deny
# only where an encryption header is present.
run "evidence_bucket_policy_as_rendered" {
  command = plan
  variables {
    capture_bucket_name = "corp-evidence"
    capture_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
  assert {
    condition = (
      [for st in jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement : st.Sid]
      == ["DenyInsecureTransport", "DenyOtherEncryption", "DenyOtherKmsKey", "DenyCustomerKeys"]
      && alltrue([for st in jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement : st.Effect == "Deny" && st.Principal == "*"])
    )
    error_message = "four Deny statements for everyone"
  }
  assert {
    condition = (
      jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement[0].Condition == { Bool = { "aws:SecureTransport" = "false" } }
      && jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement[1].Condition == {
        Null            = { "s3:x-amz-server-side-encryption" = "false" }
        StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
      }
      && jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement[2].Condition == {
        Null                    = { "s3:x-amz-server-side-encryption" = "false" }
        StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.capture_kms_key_arn }
      }
      && jsondecode(data.aws_iam_policy_document.capture_bucket[0].json).Statement[3].Condition == {
        Null = { "s3:x-amz-server-side-encryption-customer-algorithm" = "false" }
      }
    )
    error_message = "the conditions as AWS will read them"
  }
}
