# The publisher: reads the event log's stream (one item per event batch, in id order), writes change
# records to s3://BUCKET/changes/ and POSTs the events to the live API. It stops at the first
# failing record and reports it (ReportBatchItemFailures), so order is kept. Lambda retries from that
# record with no count limit until the record is maximum_record_age_in_seconds old (6 h): then the
# batch's stream position goes to the dead-letter queue, never dropped silently. A second function
# (off by default) redrives what the DLQ points at, read back from the stream.

locals {
  function_name = "${var.name_prefix}-publisher"
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${local.function_name}-dlq"
  message_retention_seconds         = 1209600
  visibility_timeout_seconds        = 6 * var.timeout # the redrive mapping consumes it
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "publisher" {
  statement {
    sid = "ReadStreams"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
    ]
    resources = values(var.stream_arns)
  }

  # ListStreams supports no resource-level permissions.
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid       = "FailedRecordsToDlq"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # The redrive function reads the DLQ and the stream records its messages point at.
  statement {
    sid = "RedriveFromDlq"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # A change record is merged with any earlier one of the same second (list, get, put).
  statement {
    sid       = "WriteChangeRecords"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.changes_prefix}*"]
  }

  statement {
    sid       = "ListChangeRecords"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.changes_prefix}*"]
    }
  }

  statement {
    sid       = "ReadIngestToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.ingest_token_secret_arn]
  }
}

# Two functions from the same zip and policy: the publisher, and the redrive (another entry point, fed
# by the DLQ only while redrive_enabled is true, one message at a time, so a batch that still fails
# stays in the DLQ).
locals {
  functions = {
    publisher = {
      name        = local.function_name
      description = "Archives the event log's new batches to S3 and POSTs them to the live API"
      handler     = var.handler
      concurrency = var.reserved_concurrent_executions
    }
    redrive = {
      name        = "${local.function_name}-redrive"
      description = "Publishes again the event batches the publisher's DLQ points at"
      handler     = var.redrive_handler
      concurrency = 1
    }
  }
}

module "function" {
  source   = "../lambda_function"
  for_each = local.functions

  function_name                  = each.value.name
  description                    = each.value.description
  handler                        = each.value.handler
  package_path                   = var.package_path
  package_s3_bucket              = var.package_s3_bucket
  package_s3_key                 = var.package_s3_key
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = each.value.concurrency
  policy_json                    = data.aws_iam_policy_document.publisher.json
  kms_key_arn                    = var.kms_key_arn
  kms_via_services               = ["dynamodb", "s3", "sqs", "secretsmanager"]
  kms_encrypt                    = true
  log_retention_days             = var.log_retention_days
  tags                           = var.tags

  environment = merge(
    {
      DALLAS_CALLS_BUCKET                  = var.bucket_name
      DALLAS_CALLS_API_URL                 = trimsuffix(var.api_url, "/")
      DALLAS_CALLS_INGEST_TOKEN_SECRET_ARN = var.ingest_token_secret_arn
      DALLAS_CALLS_LOG_LEVEL               = var.log_level
    },
    var.extra_environment,
  )
}

moved {
  from = module.publisher
  to   = module.function["publisher"]
}

resource "aws_lambda_event_source_mapping" "stream" {
  for_each = var.stream_arns

  event_source_arn                   = each.value
  function_name                      = module.function["publisher"].function_arn
  starting_position                  = var.starting_position
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "redrive" {
  event_source_arn        = aws_sqs_queue.dlq.arn
  function_name           = module.function["redrive"].function_arn
  enabled                 = var.redrive_enabled
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  alarm_name          = "${local.function_name}-dlq-not-empty"
  alarm_description   = "Stream records failed to publish: ${aws_sqs_queue.dlq.name} holds their stream positions. Replay them from the table or the archive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${local.function_name}-behind"
  alarm_description   = "The publisher lags its DynamoDB streams: browsers see changes late."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = module.function["publisher"].function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_alarm_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
