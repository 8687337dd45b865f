# mirrortap collector fleet: an internal NLB with a UDP 4789 listener in front
# of an autoscaling group of Debian 12 instances running mirrortap-collector,
# plus the Traffic Mirroring target, filter and sessions that feed it.
#
#   nlb.tf       NLB, listener, target group (health check on /healthz)
#   security.tf  security groups for the NLB and the collectors
#   fleet.tf     AMI, instance role, launch template, ASG, scaling, lifecycle hook
#   mirror.tf    traffic mirror target, filter and rules, sessions
#   outputs.tf   NLB DNS name, mirror target ID, ...

locals {
  vxlan_port = 4789

  tags = merge({ "mirrortap:deployment" = var.name }, var.tags)

  # Sessions as the collector names them: one entry per VNI.
  sessions_by_vni    = { for s in var.mirror_sessions : tostring(s.vni) => s.name... }
  collector_sessions = [for vni, names in local.sessions_by_vni : { vni = tonumber(vni), name = names[0] }]

  collector_config = var.collector_config != null ? var.collector_config : templatefile("${path.module}/templates/collector.yaml.tftpl", {
    vxlan_port      = local.vxlan_port
    metrics_port    = var.metrics_port
    rotate_size     = var.pcap_rotate_size
    retain_bytes    = var.pcap_retain_bytes
    min_free_bytes  = var.pcap_min_free_bytes
    allowed_sources = var.source_cidrs
    sessions        = local.collector_sessions
  })
}
