# terraform test of the mirrortap module with a mock aws provider (no AWS
# call, no credentials): target_type = "gwlb", both flow affinities, and the
# endpoint service alone for other accounts. Run by
# tests/deploy/terraform_validate.sh, which copies this file into the
# module's tests/ directory.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id       = "vpc-1"
  subnet_ids   = ["subnet-a", "subnet-b"]
  source_cidrs = ["10.0.0.0/16"]
  package_url  = "https://example.invalid/mirrortap-collector.deb"
  target_type  = "gwlb"
  mirror_sessions = [
    { network_interface_id = "eni-1", vni = 501, name = "web" },
  ]
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
    condition     = toset(aws_vpc_endpoint_service.gwlb[0].gateway_load_balancer_arns) == toset([aws_lb.this.arn])
    error_message = "the endpoint service offers the GWLB"
  }
  assert {
    condition = (aws_vpc_endpoint.gwlb[0].vpc_endpoint_type == "GatewayLoadBalancer"
      && aws_vpc_endpoint.gwlb[0].service_name == aws_vpc_endpoint_service.gwlb[0].service_name
    && toset(aws_vpc_endpoint.gwlb[0].subnet_ids) == toset(["subnet-a"]))
    error_message = "a GWLB endpoint of the service in the first subnet"
  }
  assert {
    condition = (aws_ec2_traffic_mirror_target.this[0].gateway_load_balancer_endpoint_id == aws_vpc_endpoint.gwlb[0].id
    && aws_ec2_traffic_mirror_target.this[0].network_load_balancer_arn == null)
    error_message = "the mirror target is the GWLB endpoint"
  }
  assert {
    condition     = aws_ec2_traffic_mirror_session.sessions["eni-1/1"].traffic_mirror_target_id == aws_ec2_traffic_mirror_target.this[0].id
    error_message = "sessions use that target"
  }
  assert {
    condition = (contains(split("\n", output.collector_config), "listen_geneve: 0.0.0.0:6081")
      && contains(split("\n", output.collector_config), "allowed_sources: [\"10.0.0.0/16\", \"10.0.1.0/24\"]")
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
    condition     = aws_autoscaling_lifecycle_hook.drain[0].heartbeat_timeout >= var.upload_drain_seconds + 30 && length(aws_iam_role_policy.upload) == 1
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
    condition = (length(aws_vpc_endpoint.gwlb) == 0 && length(aws_ec2_traffic_mirror_target.this) == 0
      && toset(aws_vpc_endpoint_service.gwlb[0].allowed_principals) == toset(["arn:aws:iam::210987654321:root"])
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
