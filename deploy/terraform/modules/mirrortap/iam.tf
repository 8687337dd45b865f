# The instance role. Each grant is optional and as narrow as the call it
# serves: read the one package object; write captures under the one prefix;
# complete its own group's termination lifecycle action; Session Manager.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "collector" {
  name_prefix        = "${var.name}-collector-"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = local.tags
}

resource "aws_iam_instance_profile" "collector" {
  name_prefix = "${var.name}-collector-"
  role        = aws_iam_role.collector.name
  tags        = local.tags
}

# --- the package -------------------------------------------------------------

locals {
  package_s3_parts = var.package_s3_uri == null ? null : regex("^s3://([^/]+)/(.+)$", var.package_s3_uri)
}

data "aws_iam_policy_document" "read_package" {
  count = var.package_s3_uri == null ? 0 : 1

  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${local.package_s3_parts[0]}/${local.package_s3_parts[1]}"]
  }
}

resource "aws_iam_role_policy" "read_package" {
  count = var.package_s3_uri == null ? 0 : 1

  name   = "read-mirrortap-package"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.read_package[0].json
}

# --- uploads: write under the prefix, nothing else ------------------------------

locals {
  capture_bucket     = !local.upload_enabled ? null : (var.create_capture_bucket ? aws_s3_bucket.captures[0].bucket : var.capture_bucket_name)
  capture_bucket_arn = !local.upload_enabled ? null : "arn:${local.partition}:s3:::${local.capture_bucket}"
}

data "aws_iam_policy_document" "upload" {
  count = local.upload_enabled ? 1 : 0

  # PutObject covers CreateMultipartUpload, UploadPart and
  # CompleteMultipartUpload; an upload that cannot finish is aborted.
  statement {
    sid = "WriteCaptures"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.capture_bucket_arn}/${var.capture_prefix}/*"]
  }

  # Listing (what a restart already uploaded), under the prefix only.
  statement {
    sid       = "ListCaptures"
    actions   = ["s3:ListBucket"]
    resources = [local.capture_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.capture_prefix}/*"]
    }
  }
}

resource "aws_iam_role_policy" "upload" {
  count = local.upload_enabled ? 1 : 0

  name   = "upload-mirrortap-captures"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.upload[0].json
}

# --- the termination lifecycle action, on its own group only --------------------

data "aws_iam_policy_document" "lifecycle" {
  count = local.upload_enabled ? 1 : 0

  statement {
    sid = "CompleteOwnTermination"
    actions = [
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    resources = [
      "arn:${local.partition}:autoscaling:${local.region}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}",
    ]
  }
}

resource "aws_iam_role_policy" "lifecycle" {
  count = local.upload_enabled ? 1 : 0

  name   = "complete-mirrortap-lifecycle-action"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.lifecycle[0].json
}

# --- Session Manager ---------------------------------------------------------------

resource "aws_iam_role_policy_attachment" "ssm" {
  count = var.enable_ssm ? 1 : 0

  role       = aws_iam_role.collector.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}
