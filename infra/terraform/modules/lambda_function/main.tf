# One Lambda function with its own role, log group and least-privilege policy. The caller passes the
# policy for what the function does; this module adds only the function's own log group, X-Ray and
# the KMS key (through the named services).
#
# A dead-letter target is set only for asynchronously invoked functions (the downloader); functions
# fed by event source mappings keep failures in the queue's redrive DLQ or the stream mapping's
# on-failure destination instead.

data "aws_region" "current" {}
data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  description        = "Execution role of the ${var.function_name} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "base" {
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray supports no resource-level permissions.
  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.kms_via_services) > 0 ? [1] : []

    content {
      sid       = "KmsThroughServices"
      actions   = var.kms_encrypt ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for s in var.kms_via_services : "${s}.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.dead_letter_target_arn == null ? [] : [1]

    content {
      sid       = "DeadLetterQueue"
      actions   = [startswith(var.dead_letter_target_arn, "arn:${data.aws_partition.current.partition}:sns:") ? "sns:Publish" : "sqs:SendMessage"]
      resources = [var.dead_letter_target_arn]
    }
  }
}

resource "aws_iam_role_policy" "base" {
  name   = "base"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.base.json
}

resource "aws_iam_role_policy" "function" {
  name   = "function"
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:Not in a VPC: the functions call public endpoints (the Socrata feed, geocoders, the API's load balancer) and AWS APIs; a VPC would need NAT gateways (about 32 USD a month each) for no isolation gain.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signed build; the zip is built and deployed by the same pipeline. Enable it with a code_signing_config if your organisation signs artefacts.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  filename                       = var.package_s3_bucket == null ? var.package_path : null
  s3_bucket                      = var.package_s3_bucket
  s3_key                         = var.package_s3_key
  source_code_hash               = filebase64sha256(var.package_path)
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_target_arn == null ? [] : [1]

    content {
      target_arn = var.dead_letter_target_arn
    }
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.base,
    aws_iam_role_policy.function,
  ]
}
