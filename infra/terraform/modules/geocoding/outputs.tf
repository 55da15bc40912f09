output "locations_table_name" {
  description = "Name of the locations table."
  value       = aws_dynamodb_table.locations.name
}

output "locations_table_arn" {
  description = "ARN of the locations table."
  value       = aws_dynamodb_table.locations.arn
}

output "locations_stream_arn" {
  description = "ARN of the locations table's stream, or null when locations_stream_view_type is null."
  value       = var.locations_stream_view_type == null ? null : aws_dynamodb_table.locations.stream_arn
}

output "provider_secret_arns" {
  description = "Map of geocoding provider name to the ARN of its key's secret."
  value       = { for name, s in aws_secretsmanager_secret.provider : name => s.arn }
}

output "queue_url" {
  description = "URL of the locator's SQS queue."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "URL of the locator's dead-letter queue."
  value       = module.queue.dlq_url
}

output "function_name" {
  description = "Name of the locator Lambda function."
  value       = module.locator.function_name
}

output "role_arn" {
  description = "ARN of the locator's execution role."
  value       = module.locator.role_arn
}
