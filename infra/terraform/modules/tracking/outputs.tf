output "calls_table_name" {
  description = "Name of the calls table."
  value       = aws_dynamodb_table.calls.name
}

output "calls_table_arn" {
  description = "ARN of the calls table."
  value       = aws_dynamodb_table.calls.arn
}

output "calls_stream_arn" {
  description = "ARN of the calls table's stream, or null when calls_stream_view_type is null."
  value       = var.calls_stream_view_type == null ? null : aws_dynamodb_table.calls.stream_arn
}

output "events_table_name" {
  description = "Name of the events table (the event log, one item per batch)."
  value       = aws_dynamodb_table.events.name
}

output "events_table_arn" {
  description = "ARN of the events table."
  value       = aws_dynamodb_table.events.arn
}

output "events_stream_arn" {
  description = "ARN of the events table's stream (NEW_IMAGE), which the publisher reads."
  value       = aws_dynamodb_table.events.stream_arn
}

output "meta_table_name" {
  description = "Name of the meta table (counters, snapshot high-water mark)."
  value       = aws_dynamodb_table.meta.name
}

output "meta_table_arn" {
  description = "ARN of the meta table."
  value       = aws_dynamodb_table.meta.arn
}

output "queue_url" {
  description = "URL of the tracker's SQS queue."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "URL of the tracker's dead-letter queue."
  value       = module.queue.dlq_url
}

output "function_name" {
  description = "Name of the tracker Lambda function."
  value       = module.tracker.function_name
}

output "role_arn" {
  description = "ARN of the tracker's execution role."
  value       = module.tracker.role_arn
}
