variable "region" {
  description = "AWS region of the VPC."
  type        = string
}

variable "name" {
  description = "Prefix for resource names."
  type        = string
  default     = "mirrortap-gw"
}

variable "vpc_id" {
  description = "VPC of the GWLB, its endpoint and the collectors."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per Availability Zone that has mirror sources: each gets a GWLB endpoint and a mirror target, and every source mirrors to its own zone's (AWS refuses a target in another zone)."
  type        = list(string)
}

variable "source_cidrs" {
  description = "CIDRs that may send VXLAN straight to the collectors (mirrortap-sender hosts), besides the GWLB."
  type        = list(string)
}

variable "monitoring_cidrs" {
  description = "CIDRs of the Prometheus servers that scrape the collectors."
  type        = list(string)
  default     = []
}

variable "package_url" {
  description = "URL of mirrortap-collector_<version>_amd64.deb."
  type        = string
}

variable "package_sha256" {
  description = "sha256sum of that .deb (required: a new package is a deliberate change of URL and checksum, which rolls the fleet with the drain)."
  type        = string
}

variable "ami_ssm_parameter" {
  description = "SSM parameter of the pinned Debian 12 image, e.g. /aws/service/debian/release/bookworm/20240717-1811/amd64 (never .../latest: that would roll the fleet whenever Debian publishes). Or set ami_id."
  type        = string
  default     = null
}

variable "ami_id" {
  description = "AMI id of the collectors, instead of ami_ssm_parameter."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "SNS topic ARNs the CloudWatch alarms notify ([] = alarms in the console only)."
  type        = list(string)
  default     = []
}

variable "consumer_principals" {
  description = "Accounts (arn:aws:iam::ACCOUNT:root) allowed to create GWLB endpoints of this fleet's endpoint service."
  type        = list(string)
  default     = []
}

variable "allowed_vnis" {
  description = "VNIs the collectors accept, including those of sessions other accounts create (null: only this stack's)."
  type        = list(string)
  default     = null
}

variable "flow_affinity" {
  description = "\"source_ip\": everything mirrored from one ENI reaches one collector. \"none\": balance by flow."
  type        = string
  default     = "source_ip"
}

variable "capture_bucket_name" {
  description = "Existing bucket the captures are uploaded to."
  type        = string
}

variable "mirrored_enis" {
  description = "ENIs in this account to mirror, in any zone of subnet_ids: each to its zone's GWLB endpoint."
  type        = list(string)
  default     = []
}

variable "vni" {
  description = "VNI of this account's mirror sessions."
  type        = number
  default     = 100
}

variable "session_name" {
  description = "Session name of this account's mirrored traffic (its pcap directory and S3 partition)."
  type        = string
  default     = "shared"
}
