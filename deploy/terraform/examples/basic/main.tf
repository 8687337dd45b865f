# A complete deployment: the mirrortap collector fleet behind an internal NLB,
# mirroring the ENIs listed in terraform.tfvars. Copy terraform.tfvars.example
# to terraform.tfvars, fill it in, then:
#
#   terraform init && terraform apply
#
# See deploy/README.md for the whole path from here to packets in Wireshark.

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "mirrortap" }
  }
}

module "mirrortap" {
  source = "../../modules/mirrortap"

  name             = var.name
  vpc_id           = var.vpc_id
  subnet_ids       = var.subnet_ids
  source_cidrs     = var.source_cidrs
  monitoring_cidrs = var.monitoring_cidrs

  package_url       = var.package_url
  package_sha256    = var.package_sha256
  ami_ssm_parameter = var.ami_ssm_parameter
  ami_id            = var.ami_id
  alarm_actions     = var.alarm_actions

  instance_type = var.instance_type
  min_size      = var.min_size
  max_size      = var.max_size

  # Operators reach the collectors through Session Manager (the module
  # installs the SSM agent); no key pair, port 22 stays closed.
  enable_ssm = true

  # Finished pcaps go to a new bucket under captures/ and expire there after
  # capture_retention_days; a collector being scaled in uploads what it has
  # before it is terminated.
  capture_prefix         = "captures"
  capture_retention_days = var.capture_retention_days

  # The web servers are watched by an IDS: keep both directions of a
  # connection on one collector (deploy/scale-out.md, "Flow affinity").
  flow_affinity = var.flow_affinity

  # Mirror web traffic only; everything else on the ENIs is left out.
  filter_rules = [
    { direction = "ingress", rule_number = 100, action = "accept", protocol = 6, destination_ports = { from = 443, to = 443 } },
    { direction = "ingress", rule_number = 110, action = "accept", protocol = 6, destination_ports = { from = 80, to = 80 } },
    { direction = "egress", rule_number = 100, action = "accept", protocol = 6, source_ports = { from = 443, to = 443 } },
    { direction = "egress", rule_number = 110, action = "accept", protocol = 6, source_ports = { from = 80, to = 80 } },
  ]

  mirror_sessions = [for eni in var.web_enis : { network_interface_id = eni, vni = var.web_vni, name = "web" }]

  # Or by tag, following the tier as it scales: mirrortap-sessions on the
  # collectors keeps a session for every ENI that carries it (docs/sessions.md).
  mirror_selectors = var.web_tier_tag == null ? [] : [
    { name = "web", select = ["Name=tag:${var.web_tier_tag.key},Values=${var.web_tier_tag.value}"], vni = var.web_vni },
  ]
}
