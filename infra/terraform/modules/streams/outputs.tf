output "function_name" {
  description = "Name of the publisher Lambda function."
  value       = module.function["publisher"].function_name
}

output "role_arn" {
  description = "ARN of the publisher's execution role."
  value       = module.function["publisher"].role_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue receiving failed stream batches (their shard and sequence numbers)."
  value       = aws_sqs_queue.dlq.id
}

output "event_source_mapping_uuids" {
  description = "UUIDs of the stream event source mappings, by stream name."
  value       = { for k, m in aws_lambda_event_source_mapping.stream : k => m.uuid }
}
