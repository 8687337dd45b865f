# mirrortap collector fleet: a load balancer (an internal NLB on UDP 4789, or a
# Gateway Load Balancer with GENEVE on UDP 6081) in front of an autoscaling
# group of Debian 12 instances running mirrortap-collector, the Traffic
# Mirroring target, filter and sessions that feed it, and the S3 bucket the
# collectors upload their finished captures to.
#
#   nlb.tf       load balancer, listener, target group (health check on /healthz)
#   gwlb.tf      with target_type = "gwlb": endpoint service and GWLB endpoint
#   security.tf  security groups for the NLB and the collectors (IPv4 and IPv6)
#   fleet.tf     AMI, launch template, disk, ASG, scaling, instance refresh
#   iam.tf       instance role: package, S3 uploads, lifecycle actions, SSM
#   storage.tf   capture bucket, S3 gateway endpoint, termination lifecycle hook
#   mirror.tf    traffic mirror target, filter and rules, sessions
#   outputs.tf   NLB DNS name, mirror target ID, bucket, ...

data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  vxlan_port  = 4789
  geneve_port = 6081
  gwlb        = var.target_type == "gwlb"

  tags = merge({ "mirrortap:deployment" = var.name }, var.tags)

  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # Sessions as the collector names them: one entry per VNI.
  sessions_by_vni    = { for s in var.mirror_sessions : tostring(s.vni) => s.name... }
  collector_sessions = [for vni, names in local.sessions_by_vni : { vni = tonumber(vni), name = names[0] }]
  # null: only the sessions' VNIs (all when there are none, and with
  # mirror_selectors, whose VNIs live in SSM and may change without a new
  # launch template); a list: exactly it.
  allowed_vnis = (var.allowed_vnis != null ? var.allowed_vnis
  : length(var.mirror_selectors) > 0 ? [] : [for s in local.collector_sessions : tostring(s.vni)])

  # The group's and the hook's names are fixed here, not generated, because
  # the collector's config (in the launch template the group uses) names them.
  asg_name       = "${var.name}-collectors"
  drain_hook     = "${var.name}-drain"
  upload_enabled = var.create_capture_bucket || var.capture_bucket_name != null
  # One drain figure (var.drain_seconds) and everything that follows from it:
  # the collector's lifecycle drain and upload drain are it; the hook holds
  # the instance for it plus the margin (time to see Terminated in IMDS and
  # complete the action); systemd waits for it plus 30 s on stop. With upload
  # the collector completes the action as soon as S3 has its files, and the
  # timeout only bounds one that cannot. Heartbeats are sent no sooner than
  # the drain's own end, so they never stretch the hold past that figure.
  hook_timeout         = var.drain_seconds + var.lifecycle_margin_seconds
  stop_timeout_seconds = var.drain_seconds + 30

  # The journal goes beside the captures (user_data.sh.tftpl, deploy/README.md "Logs").
  journal = !(local.upload_enabled && var.ship_journal) ? null : {
    url     = "s3://${local.capture_bucket}/${var.capture_prefix}/journal"
    minutes = var.journal_ship_minutes
  }

  # --- disk: sized from the rate a collector is scaled to receive ---------
  gib            = 1073741824
  mib            = 1048576
  target_bytes_s = var.target_network_in_mbps * 1000000 / 8
  # gp3 throughput counts reads and writes: every byte is written once and,
  # with upload, read once more. 25% on top: target tracking holds the
  # average, single collectors run above it until the group scales out.
  disk_throughput_wanted = ceil(local.target_bytes_s / local.mib * (local.upload_enabled ? 2 : 1) * 1.25)
  disk_throughput_mibps  = min(1000, max(125, local.disk_throughput_wanted))
  # gp3 allows at most 0.25 MiB/s per provisioned IOPS; 3000 are free.
  disk_iops = max(3000, local.disk_throughput_mibps * 4)
  # Debian, the package, logs and the journal.
  system_reserve_gib = 8
  min_free_parts     = regex("^([0-9]+)([KMGTkmgt]?)$", var.pcap_min_free_bytes)
  min_free_gib = ceil(tonumber(local.min_free_parts[0]) * lookup(
    { "" = 1, k = 1024, m = local.mib, g = local.gib, t = 1024 * local.gib }, lower(local.min_free_parts[1])
  ) / local.gib)
  disk_size_gb = var.root_volume_size_gb != null ? var.root_volume_size_gb : (
    ceil(local.target_bytes_s * 60 * var.disk_buffer_minutes / local.gib) + local.system_reserve_gib + local.min_free_gib
  )
  # Retention, not the free-space floor, decides which files go.
  retain_total_bytes = var.pcap_retain_total_bytes != null ? var.pcap_retain_total_bytes : "${max(1, local.disk_size_gb - local.system_reserve_gib - local.min_free_gib)}G"

  collector_config = var.collector_config != null ? var.collector_config : templatefile("${path.module}/templates/collector.yaml.tftpl", {
    vxlan_port         = local.vxlan_port
    geneve_port        = local.gwlb ? local.geneve_port : 0
    metrics_port       = var.metrics_port
    rotate_size        = var.pcap_rotate_size
    retain_bytes       = var.pcap_retain_bytes
    retain_total_bytes = local.retain_total_bytes
    min_free_bytes     = var.pcap_min_free_bytes
    # Behind a GWLB the datagram's sender is a GWLB node in subnet_ids.
    allowed_sources = concat(var.source_cidrs, local.gwlb ? local.subnet_cidrs : [])
    sessions        = local.collector_sessions
    allowed_vnis    = local.allowed_vnis
    vnis_named      = var.allowed_vnis == null
    upload = !local.upload_enabled ? null : {
      url                 = "s3://${local.capture_bucket}/${var.capture_prefix}"
      region              = local.region
      storage_class       = var.upload_storage_class == null ? "" : var.upload_storage_class
      delete_after_upload = var.upload_delete_after_upload
      drain_seconds       = var.drain_seconds
    }
    lifecycle = !local.upload_enabled ? null : {
      hook_name     = local.drain_hook
      group_name    = local.asg_name
      region        = local.region
      poll_seconds  = var.lifecycle_poll_seconds
      drain_seconds = var.drain_seconds
    }
    cloudwatch = !var.cloudwatch_metrics ? null : {
      namespace = var.cloudwatch_namespace
      region    = local.region
      fleet     = var.name
    }
  })
}
