output "nlb_dns_name" {
  description = "DNS name of the internal NLB. mirrortap-sender hosts send VXLAN here."
  value       = aws_lb.this.dns_name
}

output "nlb_arn" {
  description = "ARN of the NLB."
  value       = aws_lb.this.arn
}

output "mirror_target_id" {
  description = "Traffic mirror target (tmt-...) for sessions created outside this module, in this or another account."
  value       = aws_ec2_traffic_mirror_target.nlb.id
}

output "mirror_filter_id" {
  description = "Traffic mirror filter (tmf-...) built from filter_rules."
  value       = aws_ec2_traffic_mirror_filter.this.id
}

output "mirror_session_ids" {
  description = "Traffic mirror session IDs by \"<eni>/<session_number>\"."
  value       = { for k, s in aws_ec2_traffic_mirror_session.sessions : k => s.id }
}

output "target_group_arn" {
  description = "Target group of the collectors (UDP 4789, health check on /healthz)."
  value       = aws_lb_target_group.collectors.arn
}

output "autoscaling_group_name" {
  description = "Autoscaling group of the collectors."
  value       = aws_autoscaling_group.collectors.name
}

output "collector_security_group_id" {
  description = "Security group of the collectors; allow your monitoring here if it is not in monitoring_cidrs."
  value       = aws_security_group.collector.id
}

output "metrics_port" {
  description = "Port of /metrics and /healthz on every collector (Prometheus scrape target)."
  value       = var.metrics_port
}

output "flow_affinity" {
  description = "What one collector receives: \"source_ip\" = everything mirrored from a source ENI (both directions of its connections); \"none\" = single flows, whose two directions may reach two collectors."
  value       = var.flow_affinity
}
