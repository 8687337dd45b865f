# terraform test of deploy/terraform/examples/gwlb with its
# terraform.tfvars.example as the terraform.tfvars an operator copies it to
# (two subnets in two zones, an ENI in each, a consumer account), against
# the mock aws provider.
# Run by tests/deploy/terraform_validate.sh, which copies it into the
# example's tests/ directory.

mock_provider "aws" {
  source = "./tests/mocks"
}

override_data {
  target = module.mirrortap.data.aws_subnet.lb["subnet-0aaaaaaaaaaaaaaaa"]
  values = { cidr_block = "10.0.1.0/24", availability_zone = "eu-west-1a" }
}
override_data {
  target = module.mirrortap.data.aws_subnet.lb["subnet-0bbbbbbbbbbbbbbbb"]
  values = { cidr_block = "10.0.2.0/24", availability_zone = "eu-west-1b" }
}
override_data {
  target = module.mirrortap.data.aws_network_interface.source["eni-0123456789abcdef0"]
  values = { availability_zone = "eu-west-1a" }
}
override_data {
  target = module.mirrortap.data.aws_network_interface.source["eni-0fedcba9876543210"]
  values = { availability_zone = "eu-west-1b" }
}

run "two_zones_as_the_example_says" {
  command = apply

  assert {
    condition     = length(output.mirror_target_ids_by_az) == 2 && keys(output.mirror_target_ids_by_az) == ["eu-west-1a", "eu-west-1b"]
    error_message = "a mirror target in each zone of subnet_ids"
  }
  assert {
    condition = (module.mirrortap.mirror_session_ids != null
      && length(module.mirrortap.mirror_session_ids) == 2
    && output.gwlb_endpoint_service_name != null)
    error_message = "a session per mirrored ENI, and the service name for the consumers"
  }
}
