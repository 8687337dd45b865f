# terraform test of the capture bucket as evidence storage (issue 23 item 4),
# with the mock aws provider: Object Lock with its mode and days, versioning,
# the bucket policy (TLS only; no other encryption than the bucket's own,
# while the collector's uploads, which name none, pass), the KMS key,
# access logs, and expiry never shorter than the lock. Run by
# tests/deploy/terraform_validate.sh, which copies this file into the
# module's tests/ directory.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id         = "vpc-1"
  subnet_ids     = ["subnet-a", "subnet-b"]
  source_cidrs   = ["10.0.0.0/16"]
  package_url    = "https://example.invalid/mirrortap-collector.deb"
  package_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  ami_id         = "ami-0123456789abcdef0"
  mirror_sessions = [
    { network_interface_id = "eni-1", vni = 501, name = "web" },
  ]
  key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}

# A bucket made for evidence: locked from its creation, SSE-KMS with a key
# kept elsewhere, access logs, a year's expiry over a 90-day lock.
run "evidence_bucket_locked_from_creation" {
  command   = apply
  state_key = "locked"

  variables {
    capture_object_lock       = true
    capture_object_lock_mode  = "COMPLIANCE"
    capture_object_lock_days  = 90
    capture_retention_days    = 365
    capture_kms_key_arn       = var.key_arn
    capture_access_log_bucket = "corp-s3-access-logs"
  }

  assert {
    condition     = aws_s3_bucket.captures[0].object_lock_enabled == true
    error_message = "Object Lock enabled when the bucket is created"
  }
  assert {
    condition = (one(aws_s3_bucket_object_lock_configuration.captures[0].rule[0].default_retention).mode == "COMPLIANCE"
      && one(aws_s3_bucket_object_lock_configuration.captures[0].rule[0].default_retention).days == 90
    && aws_s3_bucket_object_lock_configuration.captures[0].bucket == aws_s3_bucket.captures[0].id)
    error_message = "default retention: the mode and days asked for, on the capture bucket"
  }
  assert {
    condition     = one(aws_s3_bucket_versioning.captures[0].versioning_configuration).status == "Enabled"
    error_message = "versioning on with Object Lock"
  }

  # TLS only: every action on the bucket and its objects, for everyone.
  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : (
      st.sid == "DenyInsecureTransport" && st.effect == "Deny" && toset(st.actions) == toset(["s3:*"])
      && toset(st.resources) == toset(["arn:aws:s3:::mirrortap-captures-0001", "arn:aws:s3:::mirrortap-captures-0001/*"])
      && anytrue([for p in st.principals : p.type == "*" && toset(p.identifiers) == toset(["*"])])
      && anytrue([for c in st.condition : c.test == "Bool" && c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])])
    )])
    error_message = "a Deny of s3:* on the bucket and its objects for everyone when aws:SecureTransport is false"
  }
  # Unencrypted, or otherwise encrypted, uploads: refused when they ask for
  # another algorithm, another key, or a customer key.
  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : (
      st.sid == "DenyOtherEncryption" && st.effect == "Deny" && toset(st.actions) == toset(["s3:PutObject"])
      && anytrue([for c in st.condition : c.test == "StringNotEquals" && c.variable == "s3:x-amz-server-side-encryption" && toset(c.values) == toset(["aws:kms"])])
    )])
    error_message = "an upload asking for other encryption than SSE-KMS is denied"
  }
  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : (
      st.sid == "DenyOtherKmsKey" && st.effect == "Deny" && toset(st.actions) == toset(["s3:PutObject"])
      && anytrue([for c in st.condition : c.test == "StringNotEqualsIfExists" && c.variable == "s3:x-amz-server-side-encryption-aws-kms-key-id" && toset(c.values) == toset([var.key_arn])])
    )])
    error_message = "an SSE-KMS upload naming no key (aws/s3) or another key is denied"
  }
  assert {
    condition = anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : (
      st.sid == "DenyCustomerKeys" && st.effect == "Deny" && toset(st.actions) == toset(["s3:PutObject"])
      && anytrue([for c in st.condition : c.test == "Null" && c.variable == "s3:x-amz-server-side-encryption-customer-algorithm" && toset(c.values) == toset(["false"])])
    )])
    error_message = "an SSE-C upload is denied"
  }
  # The collector sends no x-amz-server-side-encryption header
  # (cloud/s3_client.cpp): every encryption Deny must need the header to be
  # present, or the collector's own uploads would be refused.
  assert {
    condition = alltrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : (
      st.sid == "DenyInsecureTransport" || anytrue([for c in st.condition : c.test == "Null" && toset(c.values) == toset(["false"])])
    )])
    error_message = "every upload Deny applies only to requests that carry an encryption header"
  }
  assert {
    condition     = alltrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : st.effect == "Deny"])
    error_message = "the bucket policy only denies (the grant is the role's)"
  }
  assert {
    condition = (aws_s3_bucket_policy.captures[0].bucket == aws_s3_bucket.captures[0].id
    && aws_s3_bucket_policy.captures[0].policy == data.aws_iam_policy_document.capture_bucket[0].json)
    error_message = "the policy is on the capture bucket"
  }

  # SSE-KMS with the given key; the role may use it through S3, and the
  # role's S3 actions are unchanged by the lock.
  assert {
    condition = (one(one(aws_s3_bucket_server_side_encryption_configuration.captures[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
      && one(one(aws_s3_bucket_server_side_encryption_configuration.captures[0].rule).apply_server_side_encryption_by_default).kms_master_key_id == var.key_arn
    && one(aws_s3_bucket_server_side_encryption_configuration.captures[0].rule).bucket_key_enabled)
    error_message = "SSE-KMS by default with capture_kms_key_arn and a bucket key"
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.upload[0].statement[0].actions) == toset(["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"])
      && data.aws_iam_policy_document.upload[0].statement[1].sid == "CaptureKey"
      && toset(data.aws_iam_policy_document.upload[0].statement[1].actions) == toset(["kms:GenerateDataKey", "kms:Decrypt"])
    && toset(data.aws_iam_policy_document.upload[0].statement[1].resources) == toset([var.key_arn]))
    error_message = "the role: the same S3 actions, and GenerateDataKey and Decrypt on the capture key"
  }
  assert {
    condition     = output.capture_kms_key_arn == var.key_arn && length(aws_kms_key.captures) == 0
    error_message = "a given key is used, none is made"
  }

  # Expiry after the lock; noncurrent versions and bare delete markers go.
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule : r.expiration[0].days if r.id == "expire-captures"]) == 365
    error_message = "captures expire after capture_retention_days"
  }
  assert {
    condition = one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule : (
      r.noncurrent_version_expiration[0].noncurrent_days == 7 && r.expiration[0].expired_object_delete_marker && r.filter[0].prefix == "mirrortap/"
    ) if r.id == "expire-noncurrent-versions"])
    error_message = "noncurrent versions under the prefix expire after capture_noncurrent_version_days, bare delete markers go"
  }

  assert {
    condition = (aws_s3_bucket_logging.captures[0].target_bucket == "corp-s3-access-logs"
    && aws_s3_bucket_logging.captures[0].target_prefix == "mirrortap-captures-0001/")
    error_message = "server access logs into the log bucket, under the capture bucket's name"
  }
}

# S3 cannot turn Object Lock off: the plan says so instead of failing in AWS.
run "object_lock_cannot_be_turned_off" {
  command   = plan
  state_key = "locked"

  variables {
    capture_object_lock       = false
    capture_retention_days    = 365
    capture_kms_key_arn       = var.key_arn
    capture_access_log_bucket = "corp-s3-access-logs"
  }

  expect_failures = [aws_s3_bucket.captures]
}

# Versioning on its own: no lock, SSE-S3, the policy asks for AES256.
run "versioning_alone" {
  command = apply

  variables {
    capture_bucket_versioning       = true
    capture_noncurrent_version_days = 30
  }

  assert {
    condition = (one(aws_s3_bucket_versioning.captures[0].versioning_configuration).status == "Enabled"
    && length(aws_s3_bucket_object_lock_configuration.captures) == 0 && aws_s3_bucket.captures[0].object_lock_enabled == false)
    error_message = "versioning on, no Object Lock"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.captures[0].rule : r.noncurrent_version_expiration[0].noncurrent_days if r.id == "expire-noncurrent-versions"]) == 30
    error_message = "noncurrent versions expire after capture_noncurrent_version_days"
  }
  assert {
    condition = (anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : st.sid == "DenyOtherEncryption"
      && anytrue([for c in st.condition : c.test == "StringNotEquals" && toset(c.values) == toset(["AES256"])])])
      && !anytrue([for st in data.aws_iam_policy_document.capture_bucket[0].statement : st.sid == "DenyOtherKmsKey"])
    && output.capture_kms_key_arn == null)
    error_message = "SSE-S3: other encryption than AES256 denied, no key"
  }
  assert {
    condition     = length(aws_s3_bucket_logging.captures) == 0
    error_message = "no access logs unless asked"
  }
}

# Object Lock asked for on a bucket that exists: S3 enables it in place, so
# the bucket is kept (a bucket replaced would have been made with it).
run "object_lock_added_later_keeps_the_bucket" {
  command = apply

  variables {
    capture_bucket_versioning = true
    capture_object_lock       = true
    capture_retention_days    = 30
  }

  assert {
    condition     = aws_s3_bucket.captures[0].object_lock_enabled == false
    error_message = "the bucket was not replaced"
  }
  assert {
    condition = (aws_s3_bucket_object_lock_configuration.captures[0].object_lock_enabled == "Enabled"
      && one(aws_s3_bucket_object_lock_configuration.captures[0].rule[0].default_retention).mode == "GOVERNANCE"
    && one(aws_s3_bucket_object_lock_configuration.captures[0].rule[0].default_retention).days == 30)
    error_message = "Object Lock enabled by its configuration, GOVERNANCE for 30 days by default"
  }
}

run "expiry_shorter_than_the_lock_is_refused" {
  command = plan

  variables {
    capture_object_lock      = true
    capture_object_lock_days = 90
    capture_retention_days   = 30
  }

  expect_failures = [aws_s3_bucket_lifecycle_configuration.captures]
}

# Planned only: the key is prevent_destroy, which a test's teardown could
# not undo.
run "kms_key_made_here_rotates" {
  command   = plan
  state_key = "key"

  variables {
    create_capture_kms_key = true
  }

  assert {
    condition     = aws_kms_key.captures[0].enable_key_rotation == true && aws_kms_key.captures[0].deletion_window_in_days == 30
    error_message = "a customer managed key with rotation and a 30-day deletion window"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.captures[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "the bucket encrypted with it"
  }
  assert {
    condition     = aws_kms_alias.captures[0].name == "alias/mirrortap-captures"
    error_message = "the key is named alias/NAME-captures"
  }
}

run "kms_key_needs_the_bucket" {
  command   = plan
  state_key = "key"

  variables {
    create_capture_bucket  = false
    capture_bucket_name    = "corp-pcaps"
    create_capture_kms_key = true
  }

  expect_failures = [aws_kms_key.captures]
}

run "one_key_not_two" {
  command   = plan
  state_key = "key"

  variables {
    create_capture_kms_key = true
    capture_kms_key_arn    = var.key_arn
  }

  expect_failures = [aws_kms_key.captures]
}

# An existing bucket keeps its owner's settings: asking for a lock there is
# refused rather than silently not applied.
run "evidence_settings_need_the_bucket" {
  command   = plan
  state_key = "existing"

  variables {
    create_capture_bucket = false
    capture_bucket_name   = "corp-pcaps"
    capture_object_lock   = true
  }

  expect_failures = [output.capture_bucket]
}

run "access_logs_not_into_the_capture_bucket" {
  command   = plan
  state_key = "logs"

  variables {
    capture_bucket_name       = "corp-evidence"
    capture_access_log_bucket = "corp-evidence"
  }

  expect_failures = [aws_s3_bucket_logging.captures]
}
