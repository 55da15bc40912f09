# The archive bucket (raw/ snapshots, changes/ change records) and the SNS topic that announces
# every new raw snapshot.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  bucket_name = coalesce(
    var.bucket_name,
    "${var.name_prefix}-archive-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}",
  )
  raw_prefix     = "raw/"
  changes_prefix = "changes/"
}

# Server access logging is optional (access_log_bucket): it needs a separate log bucket.
resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage and request cost; raw/ is a short replay buffer and changes/ is protected by versioning. Add a replication configuration if the archive must survive a region loss.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id

  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-KMS with a customer-managed key when one is given (bucket keys cut KMS requests to about one
# per object batch), SSE-S3 (AES256) otherwise.
resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  # Every object: drop failed multipart uploads, and keep replaced or deleted versions only for a
  # while. changes/ (the permanent history) has no other rule: its current versions never expire.
  rule {
    id     = "all-objects"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # raw/ snapshots: to STANDARD_IA, then expired (a delete marker; the old version goes after
  # noncurrent_version_expiration_days). The abort action also keeps the rule valid when both
  # transition and expiration are off.
  rule {
    id     = "raw-snapshots"
    status = "Enabled"

    filter {
      prefix = local.raw_prefix
    }

    dynamic "transition" {
      for_each = var.raw_transition_days == null ? [] : [var.raw_transition_days]

      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }

    dynamic "expiration" {
      for_each = var.raw_expiration_days == null ? [] : [var.raw_expiration_days]

      content {
        days = expiration.value
      }
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  lifecycle {
    precondition {
      condition = (
        var.raw_transition_days == null || var.raw_expiration_days == null ||
        try(var.raw_expiration_days > var.raw_transition_days, false)
      )
      error_message = "raw_expiration_days must be greater than raw_transition_days."
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}

resource "aws_s3_bucket_logging" "archive" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.archive.id
  target_bucket = var.access_log_bucket
  target_prefix = "${local.bucket_name}/"
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyNonTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.archive.arn,
      "${aws_s3_bucket.archive.arn}/*",
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

  statement {
    sid     = "DenyOldTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.archive.arn,
      "${aws_s3_bucket.archive.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.archive]
}

# ---- raw/ ObjectCreated -> SNS ------------------------------------------------------------------

resource "aws_sns_topic" "raw_created" {
  # Encrypted when kms_key_arn is set (the example root sets it). Without a customer-managed key the
  # topic is unencrypted: S3 cannot publish to a topic encrypted with the AWS-managed aws/sns key.
  name              = "${var.name_prefix}-raw-created"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "ArchiveBucketPublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.raw_created.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.archive.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyNonTls"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.raw_created.arn]

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
}

resource "aws_sns_topic_policy" "raw_created" {
  arn    = aws_sns_topic.raw_created.arn
  policy = data.aws_iam_policy_document.topic.json
}

# S3 sends an s3:TestEvent when this is first configured, and may send two ObjectCreated events for
# one key: consumers ignore the first and are idempotent.
resource "aws_s3_bucket_notification" "raw_created" {
  bucket = aws_s3_bucket.archive.id

  topic {
    topic_arn     = aws_sns_topic.raw_created.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.raw_prefix
  }

  depends_on = [aws_sns_topic_policy.raw_created]
}
