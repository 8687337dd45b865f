variable "region" {
  description = "AWS region of the VPC."
  type        = string
}

variable "name" {
  description = "Prefix for resource names."
  type        = string
  default     = "mirrortap"
}

variable "vpc_id" {
  description = "VPC of the collectors and the NLB."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per Availability Zone with mirror sources."
  type        = list(string)
}

variable "source_cidrs" {
  description = "CIDRs of the mirrored ENIs (usually the VPC CIDR)."
  type        = list(string)
}

variable "monitoring_cidrs" {
  description = "CIDRs of the Prometheus servers that scrape the collectors."
  type        = list(string)
  default     = []
}

variable "package_url" {
  description = "URL of mirrortap-collector_<version>_amd64.deb (built with `cmake --build build --target package`)."
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

variable "instance_type" {
  description = "Collector instance type."
  type        = string
  default     = "c6in.large"
}

variable "min_size" {
  description = "Fewest collectors."
  type        = number
  default     = 2
}

variable "max_size" {
  description = "Most collectors."
  type        = number
  default     = 6
}

variable "web_enis" {
  description = "ENIs (eni-...) of the web servers to mirror."
  type        = list(string)
  default     = []
}

variable "web_tier_tag" {
  description = "A tag the web tier's instances' ENIs carry (e.g. { key = \"tier\", value = \"web\" }): their ENIs are mirrored as they come and go, without listing them in web_enis. null = only web_enis."
  type = object({
    key   = string
    value = string
  })
  default = null
}

variable "web_vni" {
  description = "VNI of the web servers' mirror session: their pcaps go to captures/web/."
  type        = number
  default     = 501
}

variable "flow_affinity" {
  description = "\"source_ip\": everything mirrored from one web server reaches one collector, so an IDS there sees both directions of its connections. \"none\": balance by flow."
  type        = string
  default     = "source_ip"
}

variable "capture_retention_days" {
  description = "Days an uploaded capture stays in the bucket."
  type        = number
  default     = 30
}
