# The instance role. Each grant is optional and as narrow as the call it
# serves (deploy/README.md, "IAM", traces each statement to its call): read
# the one package object; write captures under the one prefix; complete its
# own group's termination lifecycle action; Session Manager; its own metrics.

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

  # What the uploader calls (cloud/s3_client.cpp), and nothing else:
  # PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload
  # are all s3:PutObject; AbortMultipartUpload ends an upload that cannot
  # finish; HeadObject, after a CompleteMultipartUpload whose answer was lost,
  # needs s3:GetObject (without it S3 answers 403 and the file goes up
  # again). The journal is shipped under the same prefix. No listing: the
  # collector never lists the bucket.
  statement {
    sid = "WriteCaptures"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:GetObject",
    ]
    resources = ["${local.capture_bucket_arn}/${var.capture_prefix}/*"]
  }

  # A bucket encrypted with a KMS key (an existing bucket's, or the capture
  # key of the bucket made here; storage.tf): S3 asks KMS for a data key on
  # every PutObject and CreateMultipartUpload, and decrypts it again for
  # each UploadPart and the CompleteMultipartUpload.
  dynamic "statement" {
    for_each = local.capture_kms ? [local.capture_kms_key_arn] : []
    content {
      sid       = "CaptureKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
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

# What the SSM agent needs for Session Manager, as AWS documents a custom
# instance profile for it, and no more: AmazonSSMManagedInstanceCore would
# also grant ssm:GetParameter and ssm:GetParameters on every parameter of the
# account (and documents, associations, inventory), none of which a shell
# session uses.
data "aws_iam_policy_document" "ssm" {
  count = var.enable_ssm ? 1 : 0

  statement {
    sid       = "RegisterInstance"
    actions   = ["ssm:UpdateInstanceInformation"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${data.aws_caller_identity.current.account_id}:instance/*"]
  }

  # The session channels; ssmmessages has no resource-level permissions.
  statement {
    sid = "SessionChannels"
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "ssm" {
  count = var.enable_ssm ? 1 : 0

  name   = "session-manager"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.ssm[0].json
}

# --- the collectors' own metrics in CloudWatch --------------------------------------

data "aws_iam_policy_document" "cloudwatch" {
  count = var.cloudwatch_metrics ? 1 : 0

  # PutMetricData has no resources; the namespace condition keeps the role
  # from writing into any other namespace (AWS/* included).
  statement {
    sid       = "PublishOwnMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.cloudwatch_namespace]
    }
  }
}

resource "aws_iam_role_policy" "cloudwatch" {
  count = var.cloudwatch_metrics ? 1 : 0

  name   = "publish-mirrortap-metrics"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.cloudwatch[0].json
}
