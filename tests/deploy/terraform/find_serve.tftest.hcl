# terraform test of find_serve (mirrortap-find --serve on the collectors) with
# the mock aws provider: off by default; on, the user data writes the token
# hashes and enables the unit, and only find_serve_cidrs reach the port; a
# server without tokens or without clients who can reach it is refused at plan.
# Run by tests/deploy/terraform_validate.sh.

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
}

run "off_by_default" {
  command = apply

  assert {
    condition     = !strcontains(base64decode(aws_launch_template.collector.user_data), "mirrortap-find-serve")
    error_message = "without find_serve the user data neither installs nor enables mirrortap-find --serve"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.find_serve_from_analysts) == 0
    error_message = "without find_serve no port is opened for it"
  }
}

run "on_with_tokens_and_analysts" {
  command = apply

  variables {
    find_serve       = true
    find_serve_cidrs = ["10.20.0.0/24", "2001:db8::/64"]
    find_serve_tokens = {
      "alice@soc" = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      grafana     = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
    }
  }

  assert {
    condition = (strcontains(base64decode(aws_launch_template.collector.user_data), "systemctl enable --now mirrortap-find-serve.service")
      && strcontains(base64decode(aws_launch_template.collector.user_data), "MIRRORTAP_FIND_LISTEN=%s")
      && strcontains(base64decode(aws_launch_template.collector.user_data), "'0.0.0.0:8480'")
    && strcontains(base64decode(aws_launch_template.collector.user_data), "--from /var/lib/mirrortap/captures"))
    error_message = "user data enables the unit, listening on find_serve_port, reading the collector's captures"
  }
  assert {
    condition = strcontains(base64decode(aws_launch_template.collector.user_data),
      "alice@soc 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\ngrafana 486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7\nMIRRORTAP_FIND_TOKENS")
    error_message = "the tokens file holds one NAME SHA256-HEX line a client, sorted, and nothing else"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.collector.user_data), "install -m 0640 -o root -g mirrortap /dev/null /etc/mirrortap/find-tokens")
    error_message = "the tokens file is root's, readable by the service's group only (mirrortap-find refuses one others could change)"
  }
  assert {
    condition = (length(aws_vpc_security_group_ingress_rule.find_serve_from_analysts) == 2
      && aws_vpc_security_group_ingress_rule.find_serve_from_analysts["10.20.0.0/24"].from_port == 8480
      && aws_vpc_security_group_ingress_rule.find_serve_from_analysts["10.20.0.0/24"].cidr_ipv4 == "10.20.0.0/24"
    && aws_vpc_security_group_ingress_rule.find_serve_from_analysts["2001:db8::/64"].cidr_ipv6 == "2001:db8::/64")
    error_message = "find_serve_port is open to find_serve_cidrs, IPv4 and IPv6, and to nothing else"
  }
}

run "no_tokens_refused" {
  command = plan

  variables {
    find_serve       = true
    find_serve_cidrs = ["10.20.0.0/24"]
  }

  expect_failures = [terraform_data.find_serve_checks]
}

run "no_analysts_refused" {
  command = plan

  variables {
    find_serve        = true
    find_serve_tokens = { grafana = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7" }
  }

  expect_failures = [terraform_data.find_serve_checks]
}

run "a_token_in_clear_is_refused" {
  command = plan

  variables {
    find_serve        = true
    find_serve_cidrs  = ["10.20.0.0/24"]
    find_serve_tokens = { grafana = "my-secret-token" }
  }

  expect_failures = [var.find_serve_tokens]
}
