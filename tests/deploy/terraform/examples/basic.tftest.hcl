# terraform test of deploy/terraform/examples/basic with its
# terraform.tfvars.example as terraform.tfvars, against the mock aws provider
# (tests/deploy/terraform_validate.sh).

mock_provider "aws" {
  source = "./tests/mocks"
}

run "the_example_applies_as_written" {
  command = apply

  assert {
    condition     = output.mirror_target_id != null && output.capture_url != null && output.flow_affinity == "source_ip"
    error_message = "one NLB target, uploads, source_ip affinity"
  }
}
