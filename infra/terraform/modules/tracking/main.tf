# The tracker: one SQS message per new raw snapshot. It diffs the snapshot against its stored state
# and commits the events and the new state in one transaction (conditional on the high-water mark,
# so redelivered or older snapshots never apply), then materializes the calls table. The events
# table's stream carries every batch to the publisher.

locals {
  function_name = "${var.name_prefix}-tracker"
}

# ---- tables ---------------------------------------------------------------------------------------
# Key schemas, indexes, streams and TTL match dallas_calls.storage.dynamodb.table_definitions.

# The read model of every call. open_shard (a number, 0-3) is present only while a call is open, so
# the sparse GSI "open" holds exactly the open calls and is read with a Query per shard, never a
# Scan. "by_day" serves /history. A closed call gets expires_at and DynamoDB deletes it later.
resource "aws_dynamodb_table" "calls" {
  name                        = "${var.name_prefix}-calls"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "incident_number"
  stream_enabled              = var.calls_stream_view_type != null
  stream_view_type            = var.calls_stream_view_type
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "incident_number"
    type = "S"
  }

  attribute {
    name = "open_shard"
    type = "N"
  }

  attribute {
    name = "seen_day"
    type = "S"
  }

  attribute {
    name = "first_seen"
    type = "S"
  }

  global_secondary_index {
    name            = "open"
    hash_key        = "open_shard"
    range_key       = "incident_number"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_day"
    hash_key        = "seen_day"
    range_key       = "first_seen"
    projection_type = "ALL"
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

# A handful of items keyed by name: "counter" (the last event id given out), "tracker" (the
# snapshot high-water mark, the open calls, an optimistic-lock version), "last_failure" (the newest
# failed poll, written by the downloader).
resource "aws_dynamodb_table" "meta" {
  name                        = "${var.name_prefix}-meta"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "name"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "name"
    type = "S"
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

# The event log: one item per batch (one tracker poll or one locator run) in a single partition, so
# its stream delivers events to the publisher in id order.
resource "aws_dynamodb_table" "events" {
  name                        = "${var.name_prefix}-events"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "log"
  range_key                   = "first_id"
  stream_enabled              = true
  stream_view_type            = "NEW_IMAGE"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "log"
    type = "S"
  }

  attribute {
    name = "first_id"
    type = "N"
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

# ---- queue ----------------------------------------------------------------------------------------

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

# ---- function -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "tracker" {
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

  # Materializes call events onto the read model (conditional updates).
  statement {
    sid       = "WriteCalls"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.calls.arn]
  }

  # Counter compare-and-set and the tracker item, inside TransactWriteItems.
  statement {
    sid       = "ReadWriteMeta"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.meta.arn]
  }

  # Appends event batches (in the same transaction); reads them back to repair an interrupted batch.
  statement {
    sid       = "AppendEvents"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.events.arn]
  }

  statement {
    sid       = "ReadWriteLocations"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
    resources = [var.locations_table_arn]
  }
}

module "tracker" {
  source = "../lambda_function"

  function_name                  = local.function_name
  description                    = "Diffs each raw snapshot against the calls table and applies the changes"
  handler                        = var.handler
  package_path                   = var.package_path
  package_s3_bucket              = var.package_s3_bucket
  package_s3_key                 = var.package_s3_key
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  policy_json                    = data.aws_iam_policy_document.tracker.json
  kms_key_arn                    = var.kms_key_arn
  kms_via_services               = ["s3", "sqs", "dynamodb"]
  kms_encrypt                    = true
  log_retention_days             = var.log_retention_days
  tags                           = var.tags

  environment = merge(
    {
      DALLAS_CALLS_BUCKET               = var.bucket_name
      DALLAS_CALLS_CALLS_TABLE          = aws_dynamodb_table.calls.name
      DALLAS_CALLS_META_TABLE           = aws_dynamodb_table.meta.name
      DALLAS_CALLS_EVENTS_TABLE         = aws_dynamodb_table.events.name
      DALLAS_CALLS_LOCATIONS_TABLE      = var.locations_table_name
      DALLAS_CALLS_CLOSED_TTL_DAYS      = tostring(var.closed_call_ttl_days)
      DALLAS_CALLS_EVENT_RETENTION_DAYS = tostring(var.event_retention_days)
      DALLAS_CALLS_LOG_LEVEL            = var.log_level
    },
    var.extra_environment,
  )
}

resource "aws_lambda_event_source_mapping" "tracker" {
  event_source_arn                   = module.queue.queue_arn
  function_name                      = module.tracker.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}

# Feed staleness: the tracker logs one JSON line per snapshot it applied ("snapshot processed",
# outcome "ok"). Fewer than one in stale_feed_minutes means the map is not moving: the feed, the
# downloader, the queue or the tracker is stuck. Missing data counts as stale (nothing was logged).
resource "aws_cloudwatch_log_metric_filter" "good_polls" {
  name           = "${var.name_prefix}-good-polls"
  log_group_name = module.tracker.log_group_name
  pattern        = "{ ($.message = \"snapshot processed\") && ($.outcome = \"ok\") }"

  metric_transformation {
    name      = "GoodPolls"
    namespace = var.metrics_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "feed_stale" {
  alarm_name          = "${var.name_prefix}-feed-stale"
  alarm_description   = "No snapshot applied for ${var.stale_feed_minutes} minutes: calls on the map are not being updated (pausing polling also raises it)."
  namespace           = var.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.good_polls.metric_transformation[0].name
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.stale_feed_minutes
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
