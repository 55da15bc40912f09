output "function_name" {
  description = "Name of the downloader Lambda function."
  value       = module.downloader.function_name
}

output "function_arn" {
  description = "ARN of the downloader Lambda function."
  value       = module.downloader.function_arn
}

output "role_arn" {
  description = "ARN of the downloader's execution role."
  value       = module.downloader.role_arn
}

output "schedule_rule_name" {
  description = "Name of the EventBridge schedule rule."
  value       = aws_cloudwatch_event_rule.poll.name
}

output "failed_polls_queue_url" {
  description = "URL of the SQS queue holding failed poll invocations."
  value       = aws_sqs_queue.failed_polls.id
}

output "app_token_secret_arn" {
  description = "ARN of the Socrata app token secret, or null when not created."
  value       = var.create_app_token_secret ? aws_secretsmanager_secret.app_token[0].arn : null
}
