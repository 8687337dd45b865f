output "nlb_dns_name" {
  description = "DNS name of the Gateway Load Balancer."
  value       = module.mirrortap.nlb_dns_name
}

output "mirror_target_ids_by_az" {
  description = "Traffic mirror target of each zone's GWLB endpoint: sessions made elsewhere use their source's zone's."
  value       = module.mirrortap.mirror_target_ids_by_az
}

output "gwlb_endpoint_service_name" {
  description = "Give this to the consumer accounts: they create a GWLB endpoint of it (aws ec2 create-vpc-endpoint --vpc-endpoint-type GatewayLoadBalancer --service-name ...)."
  value       = module.mirrortap.gwlb_endpoint_service_name
}

output "capture_url" {
  description = "Where the captures are uploaded."
  value       = module.mirrortap.capture_url
}
