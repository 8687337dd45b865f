# terraform test of the mirrortap module with a mock aws provider (no AWS
# call, no credentials): target_type = "gwlb" across two Availability Zones
# (an endpoint and a mirror target per zone, each session on its source's
# zone's target), both flow affinities, and the endpoint service alone for
# other accounts. Run by
# tests/deploy/terraform_validate.sh, which copies this file into the
# module's tests/ directory.

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
  target_type    = "gwlb"
  mirror_sessions = [
    { network_interface_id = "eni-1", vni = 501, name = "web" },
    { network_interface_id = "eni-2", vni = 501, name = "web" },
  ]
}

# Two zones: subnet-a and eni-1 in eu-west-1a, subnet-b and eni-2 in eu-west-1b.
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
  values = { availability_zone = "eu-west-1a" }
}
override_data {
  target = data.aws_network_interface.source["eni-2"]
  values = { availability_zone = "eu-west-1b" }
}

run "gwlb_default_affinity" {
  command = apply

  assert {
    condition     = aws_lb.this.load_balancer_type == "gateway" && length(aws_lb.this.security_groups) == 0 && length(aws_security_group.nlb) == 0
    error_message = "a Gateway Load Balancer, which has no security group"
  }
  assert {
    condition = (aws_lb_target_group.collectors.protocol == "GENEVE" && aws_lb_target_group.collectors.port == 6081
    && length(aws_lb_target_group.collectors.stickiness) == 0)
    error_message = "GENEVE 6081 target group, 5-tuple hashing"
  }
  assert {
    condition = (one(aws_lb_target_group.collectors.health_check).protocol == "HTTP" && one(aws_lb_target_group.collectors.health_check).path == "/healthz"
    && one(aws_lb_target_group.collectors.health_check).port == "9478")
    error_message = "GWLB health check answered by /healthz on the metrics port"
  }
  assert {
    condition     = one(aws_lb_target_group.collectors.target_failover).on_deregistration == "rebalance"
    error_message = "flows leave a deregistered collector"
  }
  assert {
    condition     = aws_lb_listener.vxlan.load_balancer_arn == aws_lb.this.arn && one(aws_lb_listener.vxlan.default_action).target_group_arn == aws_lb_target_group.collectors.arn
    error_message = "the GWLB's listener forwards to the collectors"
  }
  assert {
    condition     = one(aws_lb_target_group.collectors.health_check).matcher == "200-399"
    error_message = "ELBv2 takes only 200-399 as a GWLB target group's matcher"
  }
  assert {
    condition = (toset(aws_vpc_endpoint_service.gwlb[0].gateway_load_balancer_arns) == toset([aws_lb.this.arn])
    && toset(aws_vpc_endpoint_service.gwlb[0].allowed_principals) == toset(["arn:aws:iam::123456789012:root"]))
    error_message = "the endpoint service offers the GWLB, and allows this account's own endpoints"
  }
  assert {
    condition = (length(aws_vpc_endpoint.gwlb) == 2
      && alltrue([for az, e in aws_vpc_endpoint.gwlb : e.vpc_endpoint_type == "GatewayLoadBalancer" && e.service_name == aws_vpc_endpoint_service.gwlb[0].service_name])
      && toset(aws_vpc_endpoint.gwlb["eu-west-1a"].subnet_ids) == toset(["subnet-a"])
    && toset(aws_vpc_endpoint.gwlb["eu-west-1b"].subnet_ids) == toset(["subnet-b"]))
    error_message = "a GWLB endpoint of the service in each zone's subnet"
  }
  assert {
    condition = (length(aws_ec2_traffic_mirror_target.gwlb) == 2 && length(aws_ec2_traffic_mirror_target.this) == 0
      && aws_ec2_traffic_mirror_target.gwlb["eu-west-1a"].gateway_load_balancer_endpoint_id == aws_vpc_endpoint.gwlb["eu-west-1a"].id
    && aws_ec2_traffic_mirror_target.gwlb["eu-west-1b"].gateway_load_balancer_endpoint_id == aws_vpc_endpoint.gwlb["eu-west-1b"].id)
    error_message = "a mirror target on each zone's endpoint"
  }
  assert {
    condition = (aws_ec2_traffic_mirror_session.sessions["eni-1/1"].traffic_mirror_target_id == aws_ec2_traffic_mirror_target.gwlb["eu-west-1a"].id
    && aws_ec2_traffic_mirror_session.sessions["eni-2/1"].traffic_mirror_target_id == aws_ec2_traffic_mirror_target.gwlb["eu-west-1b"].id)
    error_message = "each session uses the target of its source's zone"
  }
  assert {
    condition     = output.mirror_target_ids_by_az == { for az, t in aws_ec2_traffic_mirror_target.gwlb : az => t.id } && output.mirror_target_id == null
    error_message = "the targets by zone are an output"
  }
  assert {
    condition = (contains(split("\n", output.collector_config), "listen_geneve: 0.0.0.0:6081")
      && contains(split("\n", output.collector_config), "allowed_sources: [\"10.0.0.0/16\", \"10.0.1.0/24\", \"10.0.2.0/24\"]")
    && contains(split("\n", output.collector_config), "allowed_vnis: [501]"))
    error_message = "the config listens for GENEVE and admits the GWLB's subnets as senders"
  }
  assert {
    condition = (aws_vpc_security_group_ingress_rule.collector_geneve_from_gwlb["10.0.1.0/24"].from_port == 6081
      && aws_vpc_security_group_ingress_rule.collector_geneve_from_gwlb["10.0.1.0/24"].ip_protocol == "udp"
    && aws_vpc_security_group_ingress_rule.collector_health_from_gwlb["10.0.1.0/24"].from_port == 9478)
    error_message = "collectors admit GENEVE and health checks from the GWLB's subnets"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.collector_vxlan_from_nlb) == 0 && length(aws_vpc_security_group_ingress_rule.nlb_vxlan_from_sources) == 0
    error_message = "no NLB rules behind a GWLB"
  }
  assert {
    condition     = aws_autoscaling_lifecycle_hook.drain.heartbeat_timeout == var.drain_seconds + var.lifecycle_margin_seconds && length(aws_iam_role_policy.upload) == 1
    error_message = "uploads and the drain hook as behind an NLB"
  }
}

run "gwlb_source_ip_affinity" {
  command = apply

  variables {
    flow_affinity = "source_ip"
  }

  assert {
    condition     = one(aws_lb_target_group.collectors.stickiness).type == "source_ip_dest_ip" && one(aws_lb_target_group.collectors.stickiness).enabled
    error_message = "GWLB sticks by source and destination IP (the mirrored ENI and the endpoint)"
  }
}

run "gwlb_service_for_other_accounts" {
  command = apply

  variables {
    create_gwlb_endpoint     = false
    gwlb_allowed_principals  = ["arn:aws:iam::210987654321:root"]
    gwlb_acceptance_required = true
    mirror_sessions          = []
  }

  assert {
    condition = (length(aws_vpc_endpoint.gwlb) == 0 && length(aws_ec2_traffic_mirror_target.gwlb) == 0
      && toset(aws_vpc_endpoint_service.gwlb[0].allowed_principals) == toset(["arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"])
    && aws_vpc_endpoint_service.gwlb[0].acceptance_required && output.gwlb_endpoint_service_name != null)
    error_message = "only the endpoint service, open to the other account"
  }
}

run "gwlb_sessions_need_a_target" {
  command = plan

  variables {
    create_gwlb_endpoint = false
  }

  expect_failures = [aws_ec2_traffic_mirror_session.sessions]
}

run "gwlb_selectors_split_by_zone" {
  command = apply

  variables {
    mirror_sessions  = []
    mirror_selectors = [{ name = "web", select = ["Name=tag:tier,Values=web"], vni = 501 }]
  }

  assert {
    condition = yamldecode(aws_ssm_parameter.selectors[0].value).selectors == [
      { name = "web:eu-west-1a", select = ["Name=tag:tier,Values=web", "Name=availability-zone,Values=eu-west-1a"],
      target = aws_ec2_traffic_mirror_target.gwlb["eu-west-1a"].id, filter = aws_ec2_traffic_mirror_filter.this.id, vni = 501, session_number = 1 },
      { name = "web:eu-west-1b", select = ["Name=tag:tier,Values=web", "Name=availability-zone,Values=eu-west-1b"],
      target = aws_ec2_traffic_mirror_target.gwlb["eu-west-1b"].id, filter = aws_ec2_traffic_mirror_filter.this.id, vni = 501, session_number = 1 },
    ]
    error_message = "each selector is split by zone, onto that zone's target"
  }
  assert {
    condition     = alltrue([for t in aws_ec2_traffic_mirror_target.gwlb : contains(data.aws_iam_policy_document.sessions[0].statement[1].resources, t.arn)])
    error_message = "sessions may be created to every zone's target"
  }
}

run "gwlb_own_endpoints_accepted_when_acceptance_is_required" {
  command = apply

  variables {
    gwlb_acceptance_required = true
  }

  assert {
    condition     = length(aws_vpc_endpoint_connection_accepter.gwlb) == 2 && aws_vpc_endpoint_connection_accepter.gwlb["eu-west-1b"].vpc_endpoint_id == aws_vpc_endpoint.gwlb["eu-west-1b"].id
    error_message = "the module accepts its own endpoints' connections"
  }
}

run "gwlb_one_subnet_per_zone" {
  command = plan

  override_data {
    target = data.aws_subnet.lb["subnet-b"]
    values = { cidr_block = "10.0.2.0/24", availability_zone = "eu-west-1a" }
  }

  expect_failures = [aws_vpc_endpoint_service.gwlb]
}

run "gwlb_source_in_a_zone_without_a_target" {
  command = plan

  override_data {
    target = data.aws_network_interface.source["eni-2"]
    values = { availability_zone = "eu-west-1c" }
  }

  expect_failures = [aws_ec2_traffic_mirror_session.sessions]
}
