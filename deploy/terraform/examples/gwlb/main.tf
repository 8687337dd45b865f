# The collector fleet behind a Gateway Load Balancer across the zones of
# subnet_ids: each zone has a GWLB endpoint and a mirror target on it, each
# ENI mirrors to its own zone's, the GWLB sends GENEVE (UDP 6081) to the
# collectors. The
# endpoint service is shared with the accounts in consumer_principals, which
# create their own GWLB endpoints of it and mirror targets on them
# (deploy/README.md, "Gateway Load Balancer"). Copy terraform.tfvars.example
# to terraform.tfvars, fill it in, then:
#
#   terraform init && terraform apply

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

  target_type             = "gwlb"
  gwlb_allowed_principals = var.consumer_principals
  flow_affinity           = var.flow_affinity

  # Sessions of other accounts use VNIs this stack does not create: accept
  # those too (see mirror_sessions for the ones it does create).
  allowed_vnis = var.allowed_vnis

  # Uploads to a bucket that already exists (its owner manages encryption
  # and expiry), under this fleet's prefix only.
  create_capture_bucket = false
  capture_bucket_name   = var.capture_bucket_name
  capture_prefix        = "mirrortap/${var.name}"

  mirror_sessions = [for eni in var.mirrored_enis : { network_interface_id = eni, vni = var.vni, name = var.session_name }]
}
