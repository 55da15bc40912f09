output "queue_arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.id
}

output "queue_name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "subscription_arn" {
  description = "ARN of the SNS subscription."
  value       = aws_sns_topic_subscription.this.arn
}

output "consume_policy_json" {
  description = "IAM policy document (JSON) letting a function consume this queue; include it with source_policy_documents."
  value       = data.aws_iam_policy_document.consume.json
}
