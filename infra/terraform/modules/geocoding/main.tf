# The locator: a second queue on the same topic; for each snapshot it finds location keys without a
# fresh answer in the locations table, runs the geocoding chain, caches the chosen point and appends
# the location.resolved events to the events table (whose stream the publisher reads).

locals {
  function_name = "${var.name_prefix}-locator"
}

resource "aws_dynamodb_table" "locations" {
  name                        = "${var.name_prefix}-locations"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "location_key"
  stream_enabled              = var.locations_stream_view_type != null
  stream_view_type            = var.locations_stream_view_type
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "location_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_secretsmanager_secret" "provider" {
  #checkov:skip=CKV2_AWS_57:Geocoding API keys are issued by each provider's console; there is no rotation API to automate. Rotate by putting a new value.
  for_each = var.provider_secret_names

  name        = "${var.name_prefix}/geocoding/${each.key}"
  description = "API key of the ${each.key} geocoding provider; the value is put by hand."
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

module "queue" {
  source = "../topic_queue"

  name                       = local.function_name
  topic_arn                  = var.topic_arn
  raw_message_delivery       = var.raw_message_delivery
  visibility_timeout_seconds = 6 * var.timeout
  max_receive_count          = var.max_receive_count
  kms_key_arn                = var.kms_key_arn
  alarm_actions              = var.alarm_actions
  tags                       = var.tags
}

data "aws_iam_policy_document" "locator" {
  source_policy_documents = [module.queue.consume_policy_json]

  statement {
    sid       = "ReadRawSnapshots"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.raw_prefix}*"]
  }

  # Without ListBucket a missing key answers 403 instead of 404.
  statement {
    sid       = "ListRawSnapshots"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.raw_prefix}*"]
    }
  }

  statement {
    sid       = "ReadWriteLocations"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.locations.arn]
  }

  # Event ids: compare-and-set of the counter, in the same transaction as the batch.
  statement {
    sid       = "EventCounter"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [var.meta_table_arn]
  }

  statement {
    sid       = "AppendEvents"
    actions   = ["dynamodb:PutItem"]
    resources = [var.events_table_arn]
  }

  dynamic "statement" {
    for_each = length(var.provider_secret_names) > 0 ? [1] : []

    content {
      sid       = "ReadProviderKeys"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for s in aws_secretsmanager_secret.provider : s.arn]
    }
  }
}

module "locator" {
  source = "../lambda_function"

  function_name                  = local.function_name
  description                    = "Geocodes new location keys of each raw snapshot into the locations table"
  handler                        = var.handler
  package_path                   = var.package_path
  package_s3_bucket              = var.package_s3_bucket
  package_s3_key                 = var.package_s3_key
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  policy_json                    = data.aws_iam_policy_document.locator.json
  kms_key_arn                    = var.kms_key_arn
  kms_via_services               = length(var.provider_secret_names) > 0 ? ["s3", "sqs", "dynamodb", "secretsmanager"] : ["s3", "sqs", "dynamodb"]
  kms_encrypt                    = true
  log_retention_days             = var.log_retention_days
  tags                           = var.tags

  environment = merge(
    {
      DALLAS_CALLS_BUCKET               = var.bucket_name
      DALLAS_CALLS_LOCATIONS_TABLE      = aws_dynamodb_table.locations.name
      DALLAS_CALLS_META_TABLE           = var.meta_table_name
      DALLAS_CALLS_EVENTS_TABLE         = var.events_table_name
      DALLAS_CALLS_GEOCODERS            = join(",", var.geocoders)
      DALLAS_CALLS_LOCATE_LIMIT         = tostring(var.locate_limit)
      DALLAS_CALLS_GEOCODER_SECRET_ARNS = jsonencode({ for name, s in aws_secretsmanager_secret.provider : name => s.arn })
      DALLAS_CALLS_LOG_LEVEL            = var.log_level
    },
    var.extra_environment,
  )
}

resource "aws_lambda_event_source_mapping" "locator" {
  event_source_arn                   = module.queue.queue_arn
  function_name                      = module.locator.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}
