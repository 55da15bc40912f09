output "bucket_name" {
  description = "Name of the archive bucket."
  value       = aws_s3_bucket.archive.id
}

output "bucket_arn" {
  description = "ARN of the archive bucket."
  value       = aws_s3_bucket.archive.arn
}

output "archive_uri" {
  description = "The archive as DALLAS_CALLS_ARCHIVE_URI expects it (s3://BUCKET)."
  value       = "s3://${aws_s3_bucket.archive.id}"
}

output "raw_prefix" {
  description = "Key prefix of raw snapshots."
  value       = local.raw_prefix
}

output "changes_prefix" {
  description = "Key prefix of change records."
  value       = local.changes_prefix
}

output "raw_created_topic_arn" {
  description = "SNS topic announcing each new object under raw/ (S3 event notification JSON)."
  value       = aws_sns_topic.raw_created.arn
}
