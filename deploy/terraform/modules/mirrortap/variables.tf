# ---------------------------------------------------------------------------
# Where the fleet runs
# ---------------------------------------------------------------------------

variable "name" {
  description = "Prefix for every resource name and the Name tag. Short: the NLB and target group names it prefixes are limited to 32 characters."
  type        = string
  default     = "mirrortap"

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,20}$", var.name))
    error_message = "name: 1 to 20 letters, digits or '-'."
  }
}

variable "vpc_id" {
  description = "VPC of the NLB and the collectors. Mirror sources may be in other VPCs reached through peering or a transit gateway."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per Availability Zone, for the internal NLB and the autoscaling group. Use every zone that has mirror sources."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids: at least one subnet."
  }
}

variable "source_cidrs" {
  description = "CIDRs of the mirror sources (their ENIs' addresses, or mirrortap-sender hosts). They may send VXLAN (UDP 4789) to the NLB and, because the NLB preserves client addresses, to the collectors."
  type        = list(string)

  validation {
    condition     = length(var.source_cidrs) > 0 && alltrue([for c in var.source_cidrs : can(cidrhost(c, 0))])
    error_message = "source_cidrs: one or more IPv4 or IPv6 CIDRs."
  }
}

variable "monitoring_cidrs" {
  description = "CIDRs allowed to scrape /metrics on metrics_port (Prometheus). Nothing else reaches that port except the NLB's health checks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.monitoring_cidrs : can(cidrhost(c, 0))])
    error_message = "monitoring_cidrs: IPv4 or IPv6 CIDRs."
  }
}

variable "egress_cidrs" {
  description = "Where collectors may open HTTP/HTTPS connections: the Debian mirror and the package at boot, S3 (uploads, through the gateway endpoint when there is one), the Auto Scaling API (lifecycle actions) and, with enable_ssm, Systems Manager. Narrow it to your proxy or VPC endpoints if you have them. When the VPC has IPv6, ::/0 is added unless egress_ipv6 is false."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "tags" {
  description = "Tags added to every resource that takes them."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# The collectors
# ---------------------------------------------------------------------------

variable "architecture" {
  description = "CPU architecture of the instances: x86_64 or arm64. The Debian 12 AMI and the package (amd64 or arm64 .deb) must match it."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture: x86_64 or arm64."
  }
}

variable "ami_id" {
  description = "AMI of the collectors (a Debian 12 image, or one baked from it). Set this or ami_ssm_parameter. An explicit input: the fleet rolls to a new image only when this changes (deploy/README.md, \"Upgrades\")."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id: an AMI id (ami-...)."
  }
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the AMI id, pinned to one image: Debian publishes /aws/service/debian/release/bookworm/VERSION/ARCH (e.g. /aws/service/debian/release/bookworm/20240717-1811/amd64). A path ending in /latest is refused: it would roll the fleet whenever Debian publishes an image. Set this or ami_id."
  type        = string
  default     = null

  validation {
    condition     = var.ami_ssm_parameter == null || (can(regex("^/[A-Za-z0-9_./-]+$", var.ami_ssm_parameter)) && !can(regex("/latest(/|$)", var.ami_ssm_parameter)))
    error_message = "ami_ssm_parameter: a parameter path pinned to one image (not .../latest/...)."
  }
}

variable "instance_type" {
  description = "Instance type of a collector. Network-optimised types keep up best; see deploy/scale-out.md for sizing."
  type        = string
  default     = "c6in.large"
}

variable "root_volume_size_gb" {
  description = "Size of each collector's root volume (gp3, encrypted), which holds the pcaps. null = derived from target_network_in_mbps and disk_buffer_minutes (see outputs disk_size_gb, disk_throughput_mibps)."
  type        = number
  default     = null

  validation {
    condition     = var.root_volume_size_gb == null ? true : var.root_volume_size_gb >= 16 && var.root_volume_size_gb <= 16384
    error_message = "root_volume_size_gb: 16..16384, or null to derive it."
  }
}

variable "disk_buffer_minutes" {
  description = "How many minutes of capture at target_network_in_mbps the root volume holds beyond the system: the queue of files waiting for S3 when the store is unreachable, and the local history when there is no upload. Sizes the volume when root_volume_size_gb is null."
  type        = number
  default     = 30

  validation {
    condition     = var.disk_buffer_minutes >= 1 && var.disk_buffer_minutes <= 1440
    error_message = "disk_buffer_minutes: 1..1440."
  }
}

variable "pcap_retain_total_bytes" {
  description = "Budget for the finished pcaps of all sessions together on one collector (pcap.retain_total_bytes, collector syntax). null = the volume less the system reserve and pcap_min_free_bytes, so that retention, not the free-space floor, decides what goes."
  type        = string
  default     = null
}

variable "min_size" {
  description = "Fewest collectors. At least one per Availability Zone in subnet_ids keeps every zone served."
  type        = number
  default     = 2
}

variable "max_size" {
  description = "Most collectors the group scales out to."
  type        = number
  default     = 8

  validation {
    condition     = var.max_size >= 1
    error_message = "max_size: at least 1."
  }
}

variable "scaling_metric" {
  description = "What target tracking follows: network_in (bytes received per instance, the load of a collector) or cpu."
  type        = string
  default     = "network_in"

  validation {
    condition     = contains(["network_in", "cpu"], var.scaling_metric)
    error_message = "scaling_metric: network_in or cpu."
  }
}

variable "target_network_in_mbps" {
  description = "With scaling_metric = network_in: the average megabits per second received per collector that the group aims at. Size it from the bench figures (deploy/scale-out.md)."
  type        = number
  default     = 2000
}

variable "target_cpu_percent" {
  description = "With scaling_metric = cpu: the average CPU utilisation the group aims at."
  type        = number
  default     = 60
}

variable "disable_scale_in" {
  description = "Never remove collectors automatically. Scale-in moves the flows of the removed collector to others (deploy/scale-out.md); set this if splitting a flow's pcap across two instances is unacceptable."
  type        = bool
  default     = false
}

variable "refresh_min_healthy_percentage" {
  description = "During an instance refresh (new launch template version), the share of the group that stays in service. 100 (with refresh_max_healthy_percentage above 100) launches each replacement and waits for it to be healthy before it terminates the old collector."
  type        = number
  default     = 100

  validation {
    condition     = var.refresh_min_healthy_percentage >= 0 && var.refresh_min_healthy_percentage <= 100
    error_message = "refresh_min_healthy_percentage: 0..100."
  }
}

variable "refresh_max_healthy_percentage" {
  description = "During an instance refresh, how far above the desired capacity the group may grow while replacements boot (100..200). Above 100, the group launches before it terminates."
  type        = number
  default     = 200

  validation {
    condition     = var.refresh_max_healthy_percentage >= 100 && var.refresh_max_healthy_percentage <= 200
    error_message = "refresh_max_healthy_percentage: 100..200."
  }
}

variable "health_check_grace_seconds" {
  description = "Time a new collector has to boot (apt, package, first health checks) before the group acts on a failed health check. The target-down alert waits at least this long (deploy/prometheus/mirrortap-rules.yml)."
  type        = number
  default     = 300

  validation {
    condition     = var.health_check_grace_seconds >= 0 && var.health_check_grace_seconds <= 7200
    error_message = "health_check_grace_seconds: 0..7200."
  }
}

variable "replace_unhealthy" {
  description = "Replace collectors that fail the NLB's /healthz check (ASG health check type ELB). false keeps them (EC2 checks only) so that their pcaps can be inspected; the NLB stops sending to them either way."
  type        = bool
  default     = true
}

variable "deregistration_delay_seconds" {
  description = "How long a collector being removed keeps receiving its existing flows before the NLB moves them to other collectors."
  type        = number
  default     = 60
}


variable "flow_affinity" {
  description = <<-EOT
    How the NLB picks a collector for a mirrored packet. "none": by the outer
    5-tuple; AWS does not promise that the two directions of a connection get
    the same outer source port, so they may be written by two collectors and
    an IDS on each sees half a conversation. "source_ip": by the outer source
    IP, i.e. the mirrored ENI; everything mirrored from one source (both
    directions of all its flows) reaches one collector, at the price of
    balancing by source, not by flow: a busy source loads one collector
    alone. Trade-off and figures: deploy/scale-out.md, "Flow affinity".
  EOT
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "source_ip"], var.flow_affinity)
    error_message = "flow_affinity: none or source_ip."
  }
}

variable "cross_zone_load_balancing" {
  description = "Let each NLB node send to collectors in every zone. Without it a zone whose collectors are all down loses the mirror traffic sent through it; with it, inter-zone data charges apply."
  type        = bool
  default     = true
}

variable "enable_ssm" {
  description = "Install the SSM agent at boot (the Debian AMI has none) and attach AmazonSSMManagedInstanceCore, so that Session Manager can reach the collectors (no SSH keys, no open port 22)."
  type        = bool
  default     = true
}

variable "key_name" {
  description = "EC2 key pair for SSH to the collectors (ssh admin@HOST). null = none; SSH is then closed whatever admin_cidrs says."
  type        = string
  default     = null
}

variable "admin_cidrs" {
  description = "CIDRs (IPv4 or IPv6) allowed to reach the collectors on TCP 22. Only with key_name."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0))])
    error_message = "admin_cidrs: IPv4 or IPv6 CIDRs."
  }
}

variable "egress_ipv6" {
  description = "When the VPC has an IPv6 CIDR, also allow HTTP/HTTPS out to ::/0 (Debian mirrors and AWS endpoints over IPv6)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# The package and its configuration
# ---------------------------------------------------------------------------

variable "package_url" {
  description = "HTTP(S) URL of mirrortap-collector_<version>_<arch>.deb, fetched with curl at boot. Set this or package_s3_uri."
  type        = string
  default     = null

  validation {
    condition     = var.package_url == null || can(regex("^https?://[^'\\s]+$", var.package_url))
    error_message = "package_url: an http:// or https:// URL without quotes or spaces."
  }
}

variable "package_s3_uri" {
  description = "s3://bucket/key of the .deb. The instance role may then read that one object and nothing else. Set this or package_url."
  type        = string
  default     = null

  validation {
    condition     = var.package_s3_uri == null || can(regex("^s3://[^/]+/.+", var.package_s3_uri))
    error_message = "package_s3_uri: s3://bucket/key."
  }
}

variable "package_sha256" {
  description = "SHA-256 of the .deb (sha256sum). Required: boot stops unless the downloaded file matches, so an object overwritten at the same URL or key never gives a mixed fleet, and a new package is a deliberate change of this value (with the URL) that rolls the fleet."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.package_sha256))
    error_message = "package_sha256: 64 lowercase hex digits (sha256sum of the .deb)."
  }
}

variable "metrics_port" {
  description = "TCP port of the collector's /metrics, /healthz and /readyz (metrics_listen). The NLB health-checks /healthz there."
  type        = number
  default     = 9478
}

variable "pcap_rotate_size" {
  description = "Rotate a session's pcap past this size (collector syntax: 512M, 1G)."
  type        = string
  default     = "1G"
}

variable "pcap_retain_bytes" {
  description = "Finished pcaps kept per session per collector, by total size (collector syntax; 0 = keep all, which fills the disk)."
  type        = string
  default     = "20G"
}

variable "pcap_min_free_bytes" {
  description = "Free space below which a collector stops writing and turns /healthz red, so that the NLB moves its flows elsewhere before the disk fills (collector syntax: a number, optionally K, M, G or T)."
  type        = string
  default     = "2G"

  validation {
    condition     = can(regex("^[0-9]+[KMGTkmgt]?$", var.pcap_min_free_bytes))
    error_message = "pcap_min_free_bytes: a number of bytes, optionally with K, M, G or T (binary units)."
  }
}

variable "allowed_vnis" {
  description = "VNIs the rendered config accepts (allowed_vnis, e.g. [\"501\", \"1000-1999\"]). null = only the VNIs of mirror_sessions (every VNI when none are named, or when mirror_selectors are given: set a range covering their VNIs to be strict); [] = every VNI. Sessions created outside this module (other accounts, the console) need their VNIs here."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_vnis == null ? true : alltrue([for v in var.allowed_vnis : can(regex("^[0-9]{1,8}(-[0-9]{1,8})?$", v))])
    error_message = "allowed_vnis: VNIs or ranges A-B, as strings."
  }
}

variable "collector_config" {
  description = "Complete /etc/mirrortap/collector.yaml to write instead of the one this module renders (templates/collector.yaml.tftpl). It must keep metrics_listen on metrics_port."
  type        = string
  default     = null
}

variable "enable_tap" {
  description = "Install the systemd drop-in that gives the collector CAP_NET_ADMIN and /dev/net/tun, for TAP sinks (an IDS reading an interface). Configure the TAP sink itself in collector_config."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Traffic Mirroring
# ---------------------------------------------------------------------------

variable "filter_rules" {
  description = <<-EOT
    Rules of the traffic mirror filter, as in the AWS console: direction
    (ingress = traffic the source receives, egress = traffic it sends),
    rule_number (lower first, unique per direction), action (accept or reject),
    protocol (IANA number; null = all), CIDRs, and port ranges (TCP/UDP only).
    The first matching rule decides; no match = not mirrored. The default
    mirrors everything in both directions.
  EOT
  type = list(object({
    direction         = string
    rule_number       = number
    action            = string
    protocol          = optional(number)
    source_cidr       = optional(string, "0.0.0.0/0")
    destination_cidr  = optional(string, "0.0.0.0/0")
    source_ports      = optional(object({ from = number, to = number }))
    destination_ports = optional(object({ from = number, to = number }))
    description       = optional(string)
  }))
  default = [
    { direction = "ingress", rule_number = 100, action = "accept" },
    { direction = "egress", rule_number = 100, action = "accept" },
  ]

  validation {
    condition = alltrue([for r in var.filter_rules :
      contains(["ingress", "egress"], r.direction) && contains(["accept", "reject"], r.action)
      && r.rule_number >= 1 && r.rule_number <= 32766
    ])
    error_message = "filter_rules: direction ingress|egress, action accept|reject, rule_number 1..32766."
  }

  validation {
    condition     = length(distinct([for r in var.filter_rules : "${r.direction}/${r.rule_number}"])) == length(var.filter_rules)
    error_message = "filter_rules: rule_number must be unique within a direction."
  }

  validation {
    condition     = length(var.filter_rules) <= 10
    error_message = "filter_rules: AWS allows at most 10 rules in a traffic mirror filter."
  }
}

variable "mirror_amazon_dns" {
  description = "Also mirror the sources' queries to the Amazon DNS resolver (filter network service amazon-dns), which AWS otherwise leaves out."
  type        = bool
  default     = false
}

variable "mirror_sessions" {
  description = <<-EOT
    One traffic mirror session per entry: the source ENI, the session's VNI
    and name (the collector's session, its pcap directory and `session`
    label), session_number (1..32766, lower wins when sessions overlap on one
    ENI) and packet_length (bytes of each packet mirrored; null = whole
    packet, up to 8500 through an NLB). Several ENIs may share a VNI and name:
    their traffic then lands in one session.
  EOT
  type = list(object({
    network_interface_id = string
    vni                  = number
    name                 = string
    session_number       = optional(number, 1)
    packet_length        = optional(number)
    description          = optional(string)
  }))
  default = []

  validation {
    condition = alltrue([for s in var.mirror_sessions :
      s.vni >= 0 && s.vni <= 16777215 && s.session_number >= 1 && s.session_number <= 32766
      && can(regex("^[A-Za-z0-9_.-]{1,64}$", s.name)) && !contains([".", ".."], s.name)
      && (s.packet_length == null ? true : s.packet_length >= 1 && s.packet_length <= 8500)
    ])
    error_message = "mirror_sessions: vni 0..16777215, session_number 1..32766, name of letters, digits, - _ . (1 to 64), packet_length 1..8500 or null."
  }

  validation {
    condition     = length(distinct([for s in var.mirror_sessions : "${s.vni}=${s.name}"])) == length(distinct([for s in var.mirror_sessions : s.vni]))
    error_message = "mirror_sessions: entries that share a VNI must share a name."
  }

  validation {
    condition     = length(distinct([for s in var.mirror_sessions : "${s.network_interface_id}/${s.session_number}"])) == length(var.mirror_sessions)
    error_message = "mirror_sessions: an ENI cannot have two sessions with the same session_number."
  }

  validation {
    condition = alltrue([for eni in distinct([for s in var.mirror_sessions : s.network_interface_id]) :
      length([for s in var.mirror_sessions : s if s.network_interface_id == eni]) <= 3
    ])
    error_message = "mirror_sessions: AWS allows at most 3 sessions per source ENI."
  }
}

# ---------------------------------------------------------------------------
# What the mirror sessions send to: an NLB or a Gateway Load Balancer endpoint
# ---------------------------------------------------------------------------

variable "target_type" {
  description = <<-EOT
    "nlb": the mirror target is an internal NLB (UDP 4789), the collectors
    receive the mirrored VXLAN as the sources sent it. "gwlb": a Gateway Load
    Balancer with a GENEVE (UDP 6081) target group of the collectors, an
    endpoint service and a GWLB endpoint, and the mirror target is that
    endpoint; the collectors listen for GENEVE as well (listen_geneve). A GWLB
    endpoint service can be shared with other accounts (gwlb_allowed_principals),
    whose own endpoints and mirror targets then feed the same fleet
    (deploy/README.md, "Gateway Load Balancer").
  EOT
  type        = string
  default     = "nlb"

  validation {
    condition     = contains(["nlb", "gwlb"], var.target_type)
    error_message = "target_type: nlb or gwlb."
  }
}


variable "create_gwlb_endpoint" {
  description = "With target_type = gwlb: create a GWLB endpoint and a mirror target on it in this VPC. false when only other accounts or VPCs connect to the endpoint service."
  type        = bool
  default     = true
}

variable "gwlb_allowed_principals" {
  description = "With target_type = gwlb: further ARNs allowed to create endpoints of the endpoint service (e.g. arn:aws:iam::123456789012:root for another account). This account is always allowed: the module makes its own endpoints of the service."
  type        = list(string)
  default     = []
}

variable "gwlb_acceptance_required" {
  description = "With target_type = gwlb: each endpoint connection must be accepted by this account before traffic flows."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Captures to S3
# ---------------------------------------------------------------------------

variable "create_capture_bucket" {
  description = "Create the bucket that finished pcaps are uploaded to (SSE-S3 or SSE-KMS, public access blocked, HTTPS only, expiry after capture_retention_days; Object Lock, versioning and access logs as asked below). false = use capture_bucket_name as it is, or no upload when that is null."
  type        = bool
  default     = true
}

variable "capture_bucket_name" {
  description = "With create_capture_bucket: the new bucket's name (null = a unique name from name). Without: an existing bucket to upload to (its owner keeps its encryption and lifecycle); null = no upload, captures stay on the instances."
  type        = string
  default     = null

  validation {
    condition     = var.capture_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.capture_bucket_name))
    error_message = "capture_bucket_name: an S3 bucket name (3..63 of a-z 0-9 . -)."
  }
}

variable "capture_kms_key_arn" {
  description = "A KMS key (kept outside this stack) for the captures. With create_capture_bucket: the new bucket's default encryption becomes SSE-KMS with it. With an existing bucket: the key its default encryption uses. Either way the role gets kms:GenerateDataKey (every PutObject and CreateMultipartUpload) and kms:Decrypt (UploadPart and CompleteMultipartUpload read the upload's data key back; HeadObject of an SSE-KMS object) on it, through S3 only. A key ARN, not an alias: IAM grants the use of a key only on its key ARN. null = SSE-S3, or create_capture_kms_key."
  type        = string
  default     = null

  validation {
    condition     = var.capture_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.capture_kms_key_arn))
    error_message = "capture_kms_key_arn: arn:PARTITION:kms:REGION:ACCOUNT:key/ID (a key ARN; an alias ARN cannot be granted)."
  }
}

variable "create_capture_kms_key" {
  description = "With create_capture_bucket: make a customer managed KMS key (yearly rotation, 30-day deletion window, alias/NAME-captures) for the bucket's default encryption. Terraform then refuses to destroy it (prevent_destroy): locked captures are unreadable without it. A key in a stack of its own, given as capture_kms_key_arn, keeps it out of the fleet's lifecycle altogether."
  type        = bool
  default     = false
}

variable "capture_prefix" {
  description = "Key prefix of the uploads: objects are PREFIX/pcap/session=NAME/date=YYYY-MM-DD/hour=HH/collector=ID/FILE and PREFIX/flows/... . The instance role may write under it and nowhere else in the bucket."
  type        = string
  default     = "mirrortap"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.capture_prefix))
    error_message = "capture_prefix: one or more path segments of letters, digits and !_.*'()- separated by '/', no slash at either end."
  }
}

variable "capture_retention_days" {
  description = "With create_capture_bucket: uploaded captures expire after this many days (0 = keep them). With capture_object_lock, no fewer than capture_object_lock_days."
  type        = number
  default     = 30

  validation {
    condition     = var.capture_retention_days >= 0
    error_message = "capture_retention_days: 0 (keep) or more."
  }
}

variable "capture_bucket_versioning" {
  description = "With create_capture_bucket: keep every version of every object, so that a capture overwritten or deleted (by a person: the collector does neither) can be recovered for capture_noncurrent_version_days. Always on with capture_object_lock."
  type        = bool
  default     = false
}

variable "capture_noncurrent_version_days" {
  description = "With versioning: how long a version that was replaced, deleted or expired is kept before S3 removes it (0 = keep them all). A version under Object Lock stays until its lock ends regardless."
  type        = number
  default     = 7

  validation {
    condition     = var.capture_noncurrent_version_days >= 0 && floor(var.capture_noncurrent_version_days) == var.capture_noncurrent_version_days
    error_message = "capture_noncurrent_version_days: whole days, 0 (keep) or more."
  }
}

variable "capture_object_lock" {
  description = "With create_capture_bucket: S3 Object Lock (write once, read many) with versioning; every capture is locked for capture_object_lock_days in capture_object_lock_mode from its upload. Cannot be turned off once on (S3 refuses); capture_retention_days may not be shorter than the lock. deploy/README.md, \"Evidence retention\"."
  type        = bool
  default     = false
}

variable "capture_object_lock_mode" {
  description = "GOVERNANCE: a principal with s3:BypassGovernanceRetention may still delete or shorten the lock. COMPLIANCE: nobody can, the account's root included, until the lock ends; a wrong figure cannot be undone."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.capture_object_lock_mode)
    error_message = "capture_object_lock_mode: GOVERNANCE or COMPLIANCE."
  }
}

variable "capture_object_lock_days" {
  description = "With capture_object_lock: how many days each capture is locked from its upload."
  type        = number
  default     = 30

  validation {
    condition     = var.capture_object_lock_days >= 1 && var.capture_object_lock_days <= 36500 && floor(var.capture_object_lock_days) == var.capture_object_lock_days
    error_message = "capture_object_lock_days: whole days, 1..36500."
  }
}

variable "capture_access_log_bucket" {
  description = "With create_capture_bucket: an existing bucket to receive the capture bucket's S3 server access logs, under BUCKET-NAME/ (same account and region, SSE-S3, no Object Lock, a policy letting logging.s3.amazonaws.com write; deploy/README.md). null = no access logs."
  type        = string
  default     = null

  validation {
    condition     = var.capture_access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.capture_access_log_bucket))
    error_message = "capture_access_log_bucket: an S3 bucket name (3..63 of a-z 0-9 . -)."
  }
}

variable "upload_storage_class" {
  description = "Storage class of uploaded objects (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, ...). null = the bucket's default."
  type        = string
  default     = null

  validation {
    condition     = var.upload_storage_class == null || can(regex("^[A-Z_]+$", var.upload_storage_class))
    error_message = "upload_storage_class: an S3 storage class name such as STANDARD_IA."
  }
}

variable "upload_delete_after_upload" {
  description = "Delete a local pcap once S3 holds it (the disk then only queues). false keeps it until retention removes it."
  type        = bool
  default     = true
}

variable "drain_seconds" {
  description = "The one drain figure: how long a terminating collector may take to finish and upload its files. It is upload.drain_seconds and lifecycle.drain_seconds in the rendered config; the termination lifecycle hook holds the instance for it plus lifecycle_margin_seconds; the unit's stop timeout is it plus 30 s. Without upload, the hook holds a drained collector this long (plus the margin) to copy files off by hand."
  type        = number
  default     = 300

  validation {
    condition     = var.drain_seconds >= 10 && var.drain_seconds <= 6600
    error_message = "drain_seconds: 10..6600 (the hook's timeout, drain plus margin, is at most 7200)."
  }
}

variable "lifecycle_margin_seconds" {
  description = "Added to drain_seconds for the termination hook's heartbeat timeout: time to notice the Terminating state, close the open files and complete the action."
  type        = number
  default     = 120

  validation {
    condition     = var.lifecycle_margin_seconds >= 30 && var.lifecycle_margin_seconds <= 600
    error_message = "lifecycle_margin_seconds: 30..600."
  }
}

variable "lifecycle_poll_seconds" {
  description = "How often a collector asks IMDS for its autoscaling lifecycle state (lifecycle.poll_seconds)."
  type        = number
  default     = 5

  validation {
    condition     = var.lifecycle_poll_seconds >= 1 && var.lifecycle_poll_seconds <= 60
    error_message = "lifecycle_poll_seconds: 1..60."
  }
}

variable "s3_gateway_endpoint" {
  description = "Create a gateway VPC endpoint for S3 on the route tables of subnet_ids, so that uploads (and the SSM agent download) from private subnets go neither through a NAT gateway nor its per-GB charge. false when the VPC already has one on those route tables (AWS refuses a second)."
  type        = bool
  default     = true
}

variable "route_table_ids" {
  description = "Route tables for the S3 gateway endpoint. null = the ones associated with subnet_ids (each subnet needs an explicit association then)."
  type        = list(string)
  default     = null
}

# ---------------------------------------------------------------------------
# Mirroring that follows the fleet: mirrortap-sessions on the collectors
# ---------------------------------------------------------------------------

variable "mirror_selectors" {
  description = <<-EOT
    Mirror sessions that follow the monitored fleet: for each selector,
    mirrortap-sessions on the collectors keeps a session to this module's
    target (with its filter) for every network interface the selector names,
    and removes the ones it made when an interface no longer matches. select
    is a list of DescribeNetworkInterfaces filters in the AWS CLI's
    shorthand ("Name=tag:tier,Values=web", "Name=subnet-id,Values=subnet-1,subnet-2");
    all must match. name tags the sessions (mirrortap:selector) and labels
    the coverage metrics. The selectors go to an SSM parameter the service
    reads at every run: editing them never replaces the collectors. [] (the
    default): no service. mirror_sessions stays for fixed ENIs.
  EOT
  type = list(object({
    name           = string
    select         = list(string)
    vni            = number
    session_number = optional(number, 1)
    packet_length  = optional(number)
  }))
  default = []

  validation {
    condition = alltrue([for s in var.mirror_selectors :
      can(regex("^[A-Za-z0-9_.:-]{1,64}$", s.name)) && length(s.select) > 0
      && alltrue([for f in s.select : can(regex("^Name=[^,=]+,Values=[^,]+(,[^,]+)*$", f))])
      && s.vni >= 0 && s.vni <= 16777215 && s.session_number >= 1 && s.session_number <= 32766
      && (s.packet_length == null ? true : s.packet_length >= 1 && s.packet_length <= 8500)
    ])
    error_message = "mirror_selectors: name of letters, digits, _ . : - (1 to 64), select a non-empty list of \"Name=NAME,Values=V[,V...]\", vni 0..16777215, session_number 1..32766, packet_length 1..8500 or null."
  }

  validation {
    condition     = length(distinct([for s in var.mirror_selectors : s.name])) == length(var.mirror_selectors)
    error_message = "mirror_selectors: each selector needs a name of its own."
  }
}

variable "sessions_metrics_port" {
  description = "Port of mirrortap-sessions' /metrics (mirror coverage) on every collector, when mirror_selectors are given; open to monitoring_cidrs."
  type        = number
  default     = 9479

  validation {
    condition     = var.sessions_metrics_port >= 1 && var.sessions_metrics_port <= 65535
    error_message = "sessions_metrics_port: 1..65535."
  }
}

# ---------------------------------------------------------------------------
# What AWS-native operators see: CloudWatch
# ---------------------------------------------------------------------------

variable "cloudwatch_metrics" {
  description = "Collectors publish their own figures to CloudWatch (cloudwatch.* in the collector config): packets received, dropped by reason, disk free, upload backlog, health, once a minute, under cloudwatch_namespace with the dimension Fleet = name. The role may call PutMetricData for that namespace only."
  type        = bool
  default     = true
}

variable "cloudwatch_namespace" {
  description = "CloudWatch namespace of the collectors' own metrics."
  type        = string
  default     = "Mirrortap"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.cloudwatch_namespace)) && !startswith(var.cloudwatch_namespace, "AWS/")
    error_message = "cloudwatch_namespace: 1..255 of letters, digits and . _ / # : -, not starting with AWS/."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when an alarm fires and when it clears. [] = the alarms exist and show in the console, nobody is paged."
  type        = list(string)
  default     = []
}

variable "alarm_ebs_balance_percent" {
  description = "EBSByteBalance% and EBSIOBalance% (the instance's EBS burst buckets, Minimum over the group) below which the disk alarms fire: a collector out of EBS burst writes at its baseline and drops as queue_full."
  type        = number
  default     = 20

  validation {
    condition     = var.alarm_ebs_balance_percent > 0 && var.alarm_ebs_balance_percent < 100
    error_message = "alarm_ebs_balance_percent: 1..99."
  }
}

variable "ship_journal" {
  description = "Ship each collector's systemd journal to S3 beside the captures (PREFIX/journal/collector=INSTANCE-ID/...), every journal_ship_minutes and at shutdown, with Debian's awscli. Needs uploads (a bucket). deploy/README.md, \"Logs\", says why S3 and not CloudWatch Logs."
  type        = bool
  default     = true
}

variable "journal_ship_minutes" {
  description = "How often the journal is shipped (minutes); also what an instance that dies hard loses at most."
  type        = number
  default     = 5

  validation {
    condition     = var.journal_ship_minutes >= 1 && var.journal_ship_minutes <= 60
    error_message = "journal_ship_minutes: 1..60."
  }
}
