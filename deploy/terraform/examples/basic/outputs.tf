output "nlb_dns_name" {
  description = "Send mirrortap-sender traffic here."
  value       = module.mirrortap.nlb_dns_name
}

output "mirror_target_id" {
  description = "Traffic mirror target for further sessions (console, CLI, other stacks)."
  value       = module.mirrortap.mirror_target_id
}

output "autoscaling_group_name" {
  description = "The collectors' autoscaling group."
  value       = module.mirrortap.autoscaling_group_name
}

output "metrics_port" {
  description = "Prometheus scrapes every collector on this port."
  value       = module.mirrortap.metrics_port
}

output "target_group_arn" {
  description = "Target group of the collectors: `aws elbv2 describe-target-health --target-group-arn ...`."
  value       = module.mirrortap.target_group_arn
}

output "flow_affinity" {
  description = "What one collector receives (source_ip: all of a source's traffic; none: single flows)."
  value       = module.mirrortap.flow_affinity
}

output "capture_url" {
  description = "Where the captures are: `aws s3 ls --recursive <this>/pcap/`, or `mirrortap-find --from <this>`."
  value       = module.mirrortap.capture_url
}

output "disk" {
  description = "Each collector's volume, sized from the target rate."
  value       = "${module.mirrortap.disk_size_gb} GiB gp3 at ${module.mirrortap.disk_throughput_mibps} MiB/s, ${module.mirrortap.pcap_retain_total_bytes} for captures"
}
