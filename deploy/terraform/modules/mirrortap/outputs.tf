output "nlb_dns_name" {
  description = "DNS name of the internal NLB (mirrortap-sender hosts send VXLAN here); with target_type = gwlb, the GWLB's."
  value       = aws_lb.this.dns_name
}

output "nlb_arn" {
  description = "ARN of the NLB."
  value       = aws_lb.this.arn
}

output "mirror_target_id" {
  description = "With target_type = nlb: the traffic mirror target (tmt-...) for sessions created outside this module, in this or another account. null with gwlb: see mirror_target_ids_by_az."
  value       = local.nlb_target_id
}

output "mirror_target_ids_by_az" {
  description = "With target_type = gwlb: the traffic mirror target of each Availability Zone (a source must use its own zone's)."
  value       = local.mirror_target_by_az
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

output "target_type" {
  description = "What the mirror sessions send to: nlb (VXLAN on UDP 4789) or gwlb (a GWLB endpoint; GENEVE on UDP 6081 to the collectors)."
  value       = var.target_type
}

output "gwlb_endpoint_service_name" {
  description = "With target_type = gwlb: the endpoint service (com.amazonaws.vpce....) that other accounts create GWLB endpoints of."
  value       = one(aws_vpc_endpoint_service.gwlb[*].service_name)
}

output "gwlb_endpoint_ids_by_az" {
  description = "With target_type = gwlb: the GWLB endpoints (vpce-...) this module created, one per Availability Zone."
  value       = { for az, e in aws_vpc_endpoint.gwlb : az => e.id }
}

output "capture_bucket" {
  description = "Bucket the collectors upload finished pcaps to (null: no upload)."
  value       = local.capture_bucket

  # The evidence settings shape the bucket made here; silently dropping
  # them for an existing bucket would promise a lock that is not there.
  precondition {
    condition     = var.create_capture_bucket || !(var.capture_object_lock || var.capture_bucket_versioning || var.capture_access_log_bucket != null)
    error_message = "capture_object_lock, capture_bucket_versioning and capture_access_log_bucket set up the bucket this module creates (create_capture_bucket = true); an existing bucket keeps its owner's settings."
  }
}

output "capture_kms_key_arn" {
  description = "The KMS key the captures are encrypted with (capture_kms_key_arn, or the key made with create_capture_kms_key); null: SSE-S3."
  value       = local.capture_kms_key_arn
}

output "capture_url" {
  description = "s3://BUCKET/PREFIX of the uploads: aws s3 ls it, or mirrortap-find --from it."
  value       = local.upload_enabled ? "s3://${local.capture_bucket}/${var.capture_prefix}" : null
}

output "lifecycle_hook_name" {
  description = "Termination lifecycle hook that holds a collector while it drains (null: none)."
  value       = aws_autoscaling_lifecycle_hook.drain.name
}

output "lifecycle_hook_timeout_seconds" {
  description = "How long the hook holds a terminating collector at most: drain_seconds + lifecycle_margin_seconds."
  value       = aws_autoscaling_lifecycle_hook.drain.heartbeat_timeout
}

output "health_check_grace_seconds" {
  description = "The group's health-check grace period; MirrortapTargetDown's for: must not be shorter (deploy/prometheus/mirrortap-rules.yml)."
  value       = var.health_check_grace_seconds
}

output "disk_size_gb" {
  description = "Root volume of each collector (GiB), derived from target_network_in_mbps and disk_buffer_minutes unless root_volume_size_gb is set."
  value       = local.disk_size_gb
}

output "disk_throughput_mibps" {
  description = "Provisioned gp3 throughput of that volume (MiB/s)."
  value       = local.disk_throughput_mibps
}

output "pcap_retain_total_bytes" {
  description = "pcap.retain_total_bytes rendered into the collector config."
  value       = local.retain_total_bytes
}

output "collector_config" {
  description = "The /etc/mirrortap/collector.yaml each collector gets."
  value       = local.collector_config
}

output "launch_template_user_data_sha256" {
  description = "SHA-256 of the collectors' user data: it changes exactly when a new launch template version rolls the group (editing mirror_selectors does not)."
  value       = sha256(aws_launch_template.collector.user_data)
}

output "selectors_parameter" {
  description = "SSM parameter holding the selectors mirrortap-sessions reads at every run (null without mirror_selectors)."
  value       = local.sessions_enabled ? local.selectors_parameter : null
}

output "drain" {
  description = "The one drain figure and what the module derived from it (seconds)."
  value = {
    drain_seconds           = var.drain_seconds
    lifecycle_hook_timeout  = local.hook_timeout
    unit_stop_timeout       = local.upload_enabled ? local.stop_timeout_seconds : 90
    upload_drain_seconds    = local.upload_enabled ? var.drain_seconds : null
    lifecycle_drain_seconds = local.upload_enabled ? var.drain_seconds : null
  }
}

output "alarm_names" {
  description = "The CloudWatch alarms of the fleet (alarms.tf)."
  value       = concat([for a in aws_cloudwatch_metric_alarm.fleet : a.alarm_name], [for a in aws_cloudwatch_metric_alarm.capacity_short : a.alarm_name])
}

output "prometheus_scrape_configs" {
  description = "The scrape jobs of deploy/prometheus/prometheus.yml for this fleet, its region and ports filled in (YAML): paste them under scrape_configs."
  value = yamlencode([
    {
      job_name = "mirrortap"
      ec2_sd_configs = [{
        region  = local.region, refresh_interval = "60s", port = var.metrics_port
        filters = [{ name = "tag:mirrortap-role", values = ["collector"] }, { name = "instance-state-name", values = ["running"] }]
      }]
      relabel_configs = [
        { source_labels = ["__meta_ec2_private_ip"], regex = "(.+)", target_label = "__address__", replacement = "$${1}:${var.metrics_port}" },
        { source_labels = ["__meta_ec2_instance_id"], target_label = "instance_id" },
        { source_labels = ["__meta_ec2_instance_id"], target_label = "instance" },
        { source_labels = ["__meta_ec2_availability_zone"], target_label = "availability_zone" },
        { source_labels = ["__meta_ec2_private_ip"], target_label = "private_ip" },
        { source_labels = ["__meta_ec2_tag_aws_autoscaling_groupName"], target_label = "autoscaling_group" },
      ]
    },
    {
      job_name = "mirrortap-sessions"
      ec2_sd_configs = [{
        region  = local.region, refresh_interval = "60s", port = var.sessions_metrics_port
        filters = [{ name = "tag:mirrortap-role", values = ["collector"] }, { name = "instance-state-name", values = ["running"] }]
      }]
      relabel_configs = [
        { source_labels = ["__meta_ec2_instance_id"], target_label = "instance_id" },
        { source_labels = ["__meta_ec2_instance_id"], target_label = "instance" },
        { source_labels = ["__meta_ec2_availability_zone"], target_label = "availability_zone" },
      ]
    },
  ])
}
