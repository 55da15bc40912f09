output "alb_dns_name" {
  description = "DNS name of the load balancer: point the site's name (CNAME or alias record) at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ARN of the load balancer (for a WAF web ACL association)."
  value       = aws_lb.this.arn
}

output "ingest_token_secret_arn" {
  description = "ARN of the secret holding the bearer token of POST /events/ (give it to the publisher)."
  value       = aws_secretsmanager_secret.ingest_token.arn
}

output "redis_primary_endpoint" {
  description = "Primary endpoint address of the Redis replication group."
  value       = aws_elasticache_replication_group.bus.primary_endpoint_address
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.api.name
}

output "task_role_arn" {
  description = "ARN of the API tasks' role."
  value       = aws_iam_role.task.arn
}

output "tasks_security_group_id" {
  description = "Security group of the API tasks (add VPC endpoint rules against it)."
  value       = aws_security_group.tasks.id
}

output "log_group_name" {
  description = "CloudWatch log group of the API containers."
  value       = aws_cloudwatch_log_group.api.name
}
