terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # NLB security groups, aws_vpc_security_group_*_rule and UDP connection
      # termination on deregistration are all in 5.40.
      version = ">= 5.40, < 7.0"
    }
  }
}
