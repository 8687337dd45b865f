# The mock aws provider of nlb.tftest.hcl and gwlb.tftest.hcl: values the
# module reads back from AWS, fixed so that the tests can assert on them, and
# well-formed ARNs and ids where the provider checks their shape.

mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}
mock_data "aws_ami" {
  defaults = { id = "ami-0debian12", root_device_name = "/dev/xvda" }
}
mock_data "aws_vpc" {
  defaults = { ipv6_cidr_block = "" }
}
mock_data "aws_route_table" {
  defaults = { id = "rtb-0private" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
mock_resource "aws_s3_bucket" {
  defaults = { bucket = "mirrortap-captures-0001" }
}
mock_resource "aws_lb" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/mirrortap-nlb/1" }
}
mock_resource "aws_lb_target_group" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mirrortap-vxlan/1" }
}
mock_resource "aws_iam_instance_profile" {
  defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mirrortap-collector-1" }
}
mock_resource "aws_launch_template" {
  defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
}
mock_data "aws_subnet" {
  defaults = { cidr_block = "10.0.1.0/24", availability_zone = "eu-west-1a" }
}
mock_data "aws_network_interface" {
  defaults = { availability_zone = "eu-west-1a" }
}
mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0pinned" }
}
mock_resource "aws_vpc_endpoint_service" {
  defaults = { service_name = "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0" }
}
mock_resource "aws_vpc_endpoint" {
  defaults = { id = "vpce-0s3", prefix_list_id = "pl-6da54004" }
}
