# Where captures go when a collector is done with them: the bucket (created
# here, or an existing one), the way to it from private subnets, and the
# termination hook that holds a collector until its files are there.

resource "aws_s3_bucket" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket        = var.capture_bucket_name
  bucket_prefix = var.capture_bucket_name == null ? "${lower(var.name)}-captures-" : null
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.captures[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id

  # Captures (and their flow indexes) expire together.
  dynamic "rule" {
    for_each = var.capture_retention_days > 0 ? [1] : []
    content {
      id     = "expire-captures"
      status = "Enabled"
      filter {
        prefix = "${var.capture_prefix}/"
      }
      expiration {
        days = var.capture_retention_days
      }
    }
  }

  # Parts of uploads that a collector dying hard left behind.
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {
      prefix = "${var.capture_prefix}/"
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# --- S3 from private subnets without a NAT gateway ---------------------------

data "aws_route_table" "subnet" {
  for_each = var.s3_gateway_endpoint && var.route_table_ids == null ? toset(var.subnet_ids) : toset([])

  subnet_id = each.value
}

resource "aws_vpc_endpoint" "s3" {
  count = var.s3_gateway_endpoint ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids = var.route_table_ids != null ? var.route_table_ids : distinct(
    [for rt in data.aws_route_table.subnet : rt.id]
  )
  tags = merge(local.tags, { Name = "${var.name}-s3" })
}

# --- the drain -------------------------------------------------------------------

# Scale-in and instance refresh: the group deregisters the instance, waits out
# the load balancer's deregistration delay, then holds it here. With upload the
# collector sees Terminated in IMDS, finishes and uploads its files within
# drain_seconds and completes the action; the timeout (drain + margin) only
# bounds one that cannot. Without upload the instance is held as long, to
# copy files off by hand.
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = local.drain_hook
  autoscaling_group_name = aws_autoscaling_group.collectors.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = local.hook_timeout
  default_result         = "CONTINUE"
}

moved {
  from = aws_autoscaling_lifecycle_hook.drain[0]
  to   = aws_autoscaling_lifecycle_hook.drain
}
