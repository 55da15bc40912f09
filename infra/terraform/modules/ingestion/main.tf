# The schedule and the downloader: every tick polls the feed and writes one raw snapshot to
# s3://BUCKET/raw/YYYY/MM/DD/HHMMSSZ.json.gz. The write is what starts the rest of the pipeline.

locals {
  function_name = "${var.name_prefix}-downloader"
}

resource "aws_secretsmanager_secret" "app_token" {
  #checkov:skip=CKV2_AWS_57:A Socrata app token is issued by hand on the open-data portal; there is no API to rotate it automatically.
  count = var.create_app_token_secret ? 1 : 0

  name        = "${var.name_prefix}/socrata-app-token"
  description = "Socrata app token (X-App-Token) of the downloader; the value is put by hand."
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

# Failed asynchronous invocations (a poll that raised) are kept here: a later poll supersedes a
# failed one, so they are not retried, but they are never silently lost.
resource "aws_sqs_queue" "failed_polls" {
  name                              = "${local.function_name}-failures"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "downloader" {
  # GetObject also covers the HeadObject that checks whether a snapshot is already archived.
  statement {
    sid       = "WriteRawSnapshots"
    actions   = ["s3:PutObject", "s3:GetObject"]
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
    sid       = "RecordFailedPoll"
    actions   = ["dynamodb:PutItem"]
    resources = [var.meta_table_arn]
  }

  dynamic "statement" {
    for_each = var.create_app_token_secret ? [1] : []

    content {
      sid       = "ReadAppToken"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.app_token[0].arn]
    }
  }
}

module "downloader" {
  source = "../lambda_function"

  function_name                  = local.function_name
  description                    = "Polls the Dallas active-calls feed and archives the raw snapshot to S3"
  handler                        = var.handler
  package_path                   = var.package_path
  package_s3_bucket              = var.package_s3_bucket
  package_s3_key                 = var.package_s3_key
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  policy_json                    = data.aws_iam_policy_document.downloader.json
  kms_key_arn                    = var.kms_key_arn
  kms_via_services               = var.create_app_token_secret ? ["s3", "sqs", "dynamodb", "secretsmanager"] : ["s3", "sqs", "dynamodb"]
  kms_encrypt                    = true
  dead_letter_target_arn         = aws_sqs_queue.failed_polls.arn
  log_retention_days             = var.log_retention_days
  tags                           = var.tags

  environment = merge(
    {
      DALLAS_CALLS_BUCKET     = var.bucket_name
      DALLAS_CALLS_META_TABLE = var.meta_table_name
      DALLAS_CALLS_FEED_URL   = var.feed_url
      DALLAS_CALLS_LOG_LEVEL  = var.log_level
    },
    var.create_app_token_secret ? { DALLAS_CALLS_APP_TOKEN_SECRET_ARN = aws_secretsmanager_secret.app_token[0].arn } : {},
    var.extra_environment,
  )
}

# A poll older than a minute is worth nothing: no retries of failed asynchronous invocations, and
# events queued longer than the interval go to the failure queue (the function's dead-letter queue).
resource "aws_lambda_function_event_invoke_config" "downloader" {
  function_name                = module.downloader.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_cloudwatch_event_rule" "poll" {
  name                = "${var.name_prefix}-poll"
  description         = "Poll the Dallas active-calls feed"
  schedule_expression = var.schedule_expression
  state               = var.enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "downloader" {
  rule = aws_cloudwatch_event_rule.poll.name
  arn  = module.downloader.function_arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.downloader.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.poll.arn
}

resource "aws_cloudwatch_metric_alarm" "failed_polls" {
  alarm_name          = "${local.function_name}-failed-polls"
  alarm_description   = "Polls failed (see ${aws_sqs_queue.failed_polls.name} and the downloader's logs)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_polls.name }
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
