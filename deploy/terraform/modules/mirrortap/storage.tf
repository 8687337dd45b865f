# Where captures go when a collector is done with them: the bucket (created
# here, or an existing one), the way to it from private subnets, and the
# termination hook that holds a collector until its files are there. The
# created bucket can hold evidence (deploy/README.md, "Evidence retention"):
# Object Lock with versioning, a bucket policy refusing plain HTTP and other
# encryption than its own, an optional KMS key, access logs, and expiry that
# is never shorter than the lock.

locals {
  # Object Lock works only on a versioned bucket.
  capture_versioning = var.capture_bucket_versioning || var.capture_object_lock
  # Decided on the inputs alone, so that counts and dynamic blocks are known
  # at plan time even when the key is created in the same apply.
  capture_kms = var.create_capture_kms_key || var.capture_kms_key_arn != null
  capture_kms_key_arn = !local.capture_kms ? null : (
    var.create_capture_kms_key ? aws_kms_key.captures[0].arn : var.capture_kms_key_arn
  )
  capture_sse_algorithm = local.capture_kms ? "aws:kms" : "AES256"
}

resource "aws_s3_bucket" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket        = var.capture_bucket_name
  bucket_prefix = var.capture_bucket_name == null ? "${lower(var.name)}-captures-" : null
  # A bucket made for evidence has Object Lock from its creation, so no
  # object is ever in it unlocked. Turned on later, the lock comes from
  # aws_s3_bucket_object_lock_configuration (S3 enables Object Lock on an
  # existing versioned bucket). The change is ignored here: the provider
  # replaces a bucket whose object_lock_enabled changes, and the capture
  # bucket is never to be replaced (a new name, the fleet rolled onto it,
  # the old one's deletion refused while it holds captures).
  object_lock_enabled = var.capture_object_lock
  tags                = local.tags

  lifecycle {
    ignore_changes = [object_lock_enabled]

    postcondition {
      condition     = !self.object_lock_enabled || var.capture_object_lock
      error_message = "capture_object_lock: this bucket has Object Lock, which S3 can neither turn off nor let its versioning be suspended; keep capture_object_lock = true (to stop locking new captures, upload to a new bucket)."
    }
  }
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

# SSE-S3, or SSE-KMS with the capture key (capture_kms_key_arn or the key
# made below). The bucket key lets S3 ask KMS once per bucket key rather
# than once per object: fewer KMS calls, the same key.
resource "aws_s3_bucket_server_side_encryption_configuration" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.capture_sse_algorithm
      kms_master_key_id = local.capture_kms_key_arn
    }
    bucket_key_enabled = true
  }
}

# --- evidence: versions, lock, policy, key, logs ---------------------------------

resource "aws_s3_bucket_versioning" "captures" {
  count = var.create_capture_bucket && local.capture_versioning ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

# Every new object version is locked for capture_object_lock_days from its
# upload. The collector sets no retention of its own (it sends no
# x-amz-object-lock-* header), so it needs no s3:PutObjectRetention; S3 asks
# only that each PutObject and UploadPart carry Content-MD5 or an
# x-amz-checksum-* header, and the collector sends both
# (cloud/s3_client.cpp).
resource "aws_s3_bucket_object_lock_configuration" "captures" {
  count = var.create_capture_bucket && var.capture_object_lock ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  # What turns Object Lock on for a bucket made without it.
  object_lock_enabled = "Enabled"
  rule {
    default_retention {
      mode = var.capture_object_lock_mode
      days = var.capture_object_lock_days
    }
  }

  # S3 takes Object Lock on an existing bucket only once it is versioned.
  depends_on = [aws_s3_bucket_versioning.captures]
}

# Uploads the bucket refuses: each entry a Deny of s3:PutObject (which
# CreateMultipartUpload is too, carrying the headers for the whole upload)
# under all of its conditions.
#
# S3 encrypts every upload that names no encryption with the bucket's
# default (above), and the collector names none: it sends no
# x-amz-server-side-encryption header (cloud/s3_client.cpp), nor does the
# journal's `aws s3 cp`. AWS's older pattern, which also denies uploads
# *without* the header, would refuse the collector's own uploads and guards
# nothing since default encryption; so every entry needs an encryption
# header to be present (Null = false) and refuses only what it asks for.
locals {
  sse_header_present = { test = "Null", variable = "s3:x-amz-server-side-encryption", values = ["false"] }
  capture_upload_denials = concat(
    # Another algorithm than the bucket's.
    [{
      sid = "DenyOtherEncryption"
      conditions = [
        local.sse_header_present,
        { test = "StringNotEquals", variable = "s3:x-amz-server-side-encryption", values = [local.capture_sse_algorithm] },
      ]
    }],
    # SSE-KMS with no key id (the account's aws/s3 key) or another key: only
    # the capture key, by its ARN, passes.
    local.capture_kms ? [{
      sid = "DenyOtherKmsKey"
      conditions = [
        local.sse_header_present,
        { test = "StringNotEqualsIfExists", variable = "s3:x-amz-server-side-encryption-aws-kms-key-id", values = [local.capture_kms_key_arn] },
      ]
    }] : [],
    # SSE-C: an object only its uploader's key can read is no evidence for
    # anyone else, and the bucket's default encryption does not apply to it.
    [{
      sid        = "DenyCustomerKeys"
      conditions = [{ test = "Null", variable = "s3:x-amz-server-side-encryption-customer-algorithm", values = ["false"] }]
    }],
  )
}

# Deny-only, so that block_public_policy has nothing to object to, and
# nothing here grants: the role's grant is in iam.tf.
data "aws_iam_policy_document" "capture_bucket" {
  count = var.create_capture_bucket ? 1 : 0

  # Nothing reaches the captures in clear text; the collector and the AWS
  # CLI use HTTPS (cloud/s3_address.cpp).
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.capture_bucket_arn,
      "${local.capture_bucket_arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = local.capture_upload_denials
    content {
      sid       = statement.value.sid
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["${local.capture_bucket_arn}/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_s3_bucket_policy" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id
  policy = data.aws_iam_policy_document.capture_bucket[0].json

  # S3 refuses concurrent changes to a bucket's policy and its public
  # access block.
  depends_on = [aws_s3_bucket_public_access_block.captures]
}

# The capture key, when the module makes it. Captures may be locked for
# years; deleting their key makes them unreadable whatever their lock, so
# the key outlives the fleet: Terraform refuses to destroy it (decommission:
# `terraform state rm` it first; deploy/README.md). A key kept in a stack of
# its own, passed as capture_kms_key_arn, is the stronger arrangement. Its
# policy is the default one, the account's IAM decides: a key policy naming
# the collector role would tie the key to the fleet it must outlive.
resource "aws_kms_key" "captures" {
  count = var.create_capture_kms_key ? 1 : 0

  description             = "${var.name}: default encryption of the mirrortap capture bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = local.tags

  lifecycle {
    prevent_destroy = true

    precondition {
      condition     = var.create_capture_bucket
      error_message = "create_capture_kms_key: only for the bucket this module creates (create_capture_bucket); an existing bucket's key is its owner's, give it as capture_kms_key_arn."
    }
    precondition {
      condition     = var.capture_kms_key_arn == null
      error_message = "create_capture_kms_key and capture_kms_key_arn: one key, either made here or given."
    }
  }
}

resource "aws_kms_alias" "captures" {
  count = var.create_capture_kms_key ? 1 : 0

  name          = "alias/${var.name}-captures"
  target_key_id = aws_kms_key.captures[0].key_id
}

# Who read, wrote or deleted what, as S3 server access logs in another
# bucket (which S3 requires: same account and region, SSE-S3, no Object
# Lock; deploy/README.md). Date-partitioned keys, for Athena.
resource "aws_s3_bucket_logging" "captures" {
  count = var.create_capture_bucket && var.capture_access_log_bucket != null ? 1 : 0

  bucket        = aws_s3_bucket.captures[0].id
  target_bucket = var.capture_access_log_bucket
  target_prefix = "${aws_s3_bucket.captures[0].bucket}/"
  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  lifecycle {
    precondition {
      condition     = var.capture_access_log_bucket != var.capture_bucket_name
      error_message = "capture_access_log_bucket: another bucket than the captures' (a bucket logging into itself logs its own log deliveries)."
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "captures" {
  count = var.create_capture_bucket ? 1 : 0

  bucket = aws_s3_bucket.captures[0].id

  # Captures (and their flow indexes) expire together. In a versioned
  # bucket expiry only hides the object behind a delete marker; the next
  # rule removes the version itself.
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

  # Versions that expiry or a person replaced or deleted: recoverable for
  # capture_noncurrent_version_days, then gone (a locked version stays
  # until its lock ends: lifecycle never removes one); delete markers
  # with nothing behind them go as well.
  dynamic "rule" {
    for_each = local.capture_versioning && var.capture_noncurrent_version_days > 0 ? [1] : []
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {
        prefix = "${var.capture_prefix}/"
      }
      noncurrent_version_expiration {
        noncurrent_days = var.capture_noncurrent_version_days
      }
      expiration {
        expired_object_delete_marker = true
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

  # Noncurrent-version rules on a bucket whose versioning is still being
  # turned on are refused.
  depends_on = [aws_s3_bucket_versioning.captures]

  lifecycle {
    # An expiry inside the lock would hide captures behind delete markers
    # while S3 still holds them: the bucket would say "gone" about evidence
    # that is kept, and bill for it. Retention is what the lock promises.
    precondition {
      condition     = !var.capture_object_lock || var.capture_retention_days == 0 || var.capture_retention_days >= var.capture_object_lock_days
      error_message = "capture_retention_days (${var.capture_retention_days}) is shorter than capture_object_lock_days (${var.capture_object_lock_days}): captures would expire while still locked. Expire no sooner than the lock ends (or 0, keep)."
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
