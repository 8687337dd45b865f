# terraform test of mirror_selectors (mirrortap-sessions on the collectors)
# with the mock aws provider: the selectors live in an SSM parameter, the
# IAM policy is the least the program needs (each condition checked), and
# editing the selectors leaves the launch template as it was. Run by
# tests/deploy/terraform_validate.sh.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id           = "vpc-1"
  subnet_ids       = ["subnet-a", "subnet-b"]
  source_cidrs     = ["10.0.0.0/16"]
  monitoring_cidrs = ["10.9.0.0/24"]
  package_url      = "https://example.invalid/mirrortap-collector.deb"
  package_sha256   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  ami_id           = "ami-0123456789abcdef0"
  mirror_selectors = [
    { name = "web", select = ["Name=tag:tier,Values=web", "Name=vpc-id,Values=vpc-1"], vni = 100 },
    { name = "db", select = ["Name=subnet-id,Values=subnet-a,subnet-b"], vni = 200, session_number = 2, packet_length = 256 },
  ]
}

run "selectors_in_ssm_service_enabled_least_privilege" {
  command = apply

  assert {
    condition     = aws_ssm_parameter.selectors[0].name == "/mirrortap/mirrortap-sessions/selectors" && aws_ssm_parameter.selectors[0].type == "String"
    error_message = "the selectors go to /NAME/mirrortap-sessions/selectors"
  }
  assert {
    condition = (yamldecode(aws_ssm_parameter.selectors[0].value).selectors[0] == {
      name   = "web", select = ["Name=tag:tier,Values=web", "Name=vpc-id,Values=vpc-1"],
      target = aws_ec2_traffic_mirror_target.this[0].id, filter = aws_ec2_traffic_mirror_filter.this.id,
      vni    = 100, session_number = 1
    })
    error_message = "a selector gets this module's target and filter, session number 1 by default, no packet_length"
  }
  assert {
    condition     = yamldecode(aws_ssm_parameter.selectors[0].value).selectors[1].packet_length == 256 && yamldecode(aws_ssm_parameter.selectors[0].value).selectors[1].session_number == 2
    error_message = "packet_length and session_number pass through"
  }

  # The service: its config names the parameter, never the selectors.
  assert {
    condition = (strcontains(base64decode(aws_launch_template.collector.user_data), "selectors_parameter: /mirrortap/mirrortap-sessions/selectors")
      && strcontains(base64decode(aws_launch_template.collector.user_data), "systemctl enable --now mirrortap-sessions.service")
      && strcontains(base64decode(aws_launch_template.collector.user_data), "metrics_listen: 0.0.0.0:9479")
    && !strcontains(base64decode(aws_launch_template.collector.user_data), "tag:tier"))
    error_message = "user data writes sessions.yaml naming the SSM parameter (not the selectors) and enables the service"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.collector.user_data), "allowed_vnis: []")
    error_message = "with selectors the collector accepts their VNIs (which change in SSM, not in the launch template)"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.sessions_metrics_from_monitoring) == 1 && aws_vpc_security_group_ingress_rule.sessions_metrics_from_monitoring["10.9.0.0/24"].from_port == 9479
    error_message = "coverage /metrics open to monitoring_cidrs on 9479"
  }

  # IAM: Describe anywhere (EC2 has no resource-level Describe), nothing else anywhere.
  assert {
    condition = (data.aws_iam_policy_document.sessions[0].statement[0].resources == toset(["*"])
      && toset(data.aws_iam_policy_document.sessions[0].statement[0].actions) == toset([
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstances", "ec2:DescribeTrafficMirrorSessions",
    "ec2:DescribeTrafficMirrorTargets", "ec2:DescribeTrafficMirrorFilters"]))
    error_message = "only Describe* on *"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.sessions[0].statement[1].actions) == toset(["ec2:CreateTrafficMirrorSession"])
      && toset(data.aws_iam_policy_document.sessions[0].statement[1].resources) == toset([
        aws_ec2_traffic_mirror_target.this[0].arn, aws_ec2_traffic_mirror_filter.this.arn,
    "arn:aws:ec2:eu-west-1:123456789012:network-interface/*"]))
    error_message = "creates only to this module's target ARN, with its filter"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.sessions[0].statement[2].resources) == toset(["arn:aws:ec2:eu-west-1:123456789012:traffic-mirror-session/*"])
      && length([for c in data.aws_iam_policy_document.sessions[0].statement[2].condition : c
      if c.test == "Null" && c.variable == "aws:RequestTag/mirrortap:selector" && c.values == tolist(["false"])]) == 1
      && length([for c in data.aws_iam_policy_document.sessions[0].statement[2].condition : c
    if c.test == "ForAllValues:StringEquals" && c.variable == "aws:TagKeys" && c.values == tolist(["mirrortap:selector"])]) == 1)
    error_message = "a session is created only with the mirrortap:selector tag, and no other"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.sessions[0].statement[3].actions) == toset(["ec2:CreateTags"])
      && one(data.aws_iam_policy_document.sessions[0].statement[3].condition).variable == "ec2:CreateAction"
    && one(data.aws_iam_policy_document.sessions[0].statement[3].condition).values == tolist(["CreateTrafficMirrorSession"]))
    error_message = "tags only as part of the create"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.sessions[0].statement[4].actions) == toset(["ec2:DeleteTrafficMirrorSession"])
      && one(data.aws_iam_policy_document.sessions[0].statement[4].condition).variable == "aws:ResourceTag/mirrortap:selector"
    && one(data.aws_iam_policy_document.sessions[0].statement[4].condition).values == tolist(["false"]))
    error_message = "deletes only of sessions carrying the tag"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.sessions[0].statement[5].actions) == toset(["ssm:GetParameter"])
    && toset(data.aws_iam_policy_document.sessions[0].statement[5].resources) == toset([aws_ssm_parameter.selectors[0].arn]))
    error_message = "reads the one parameter"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.sessions[0].statement) == 6 && aws_iam_role_policy.sessions[0].role == aws_iam_role.collector.id
    error_message = "six statements, on the collectors' role"
  }
}

run "editing_selectors_keeps_the_launch_template" {
  command = apply

  variables {
    mirror_selectors = [
      { name = "web", select = ["Name=tag:tier,Values=web,api"], vni = 101 },
      { name = "payments", select = ["Name=tag:team,Values=payments"], vni = 300, session_number = 3 },
    ]
  }

  assert {
    condition     = sha256(aws_launch_template.collector.user_data) == run.selectors_in_ssm_service_enabled_least_privilege.launch_template_user_data_sha256
    error_message = "editing mirror_selectors changed the launch template: the collectors would be replaced"
  }
  assert {
    condition     = [for s in yamldecode(aws_ssm_parameter.selectors[0].value).selectors : s.name] == ["web", "payments"]
    error_message = "the new selectors are in the parameter"
  }
}

run "no_selectors_no_service" {
  command = apply

  variables {
    mirror_selectors = []
  }

  assert {
    condition = (length(aws_ssm_parameter.selectors) == 0 && length(aws_iam_role_policy.sessions) == 0
      && length(aws_vpc_security_group_ingress_rule.sessions_metrics_from_monitoring) == 0
    && !strcontains(base64decode(aws_launch_template.collector.user_data), "mirrortap-sessions"))
    error_message = "without selectors: no parameter, no policy, no port, no service"
  }
}
