output "api_url" {
  description = "Where the dashboard and the API are served (after DNS points domain_name at the load balancer)."
  value       = local.api_url
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (target of the CNAME when route53_zone_id is null)."
  value       = module.api.alb_dns_name
}

output "ecr_repository_url" {
  description = "Push the API image here (docker push URL:TAG)."
  value       = aws_ecr_repository.api.repository_url
}

output "archive_bucket" {
  description = "The archive bucket (raw/ snapshots, changes/ change records)."
  value       = module.storage.bucket_name
}

output "calls_table" {
  description = "DynamoDB table of calls."
  value       = module.tracking.calls_table_name
}

output "locations_table" {
  description = "DynamoDB table of geocoded locations."
  value       = module.geocoding.locations_table_name
}

output "events_table" {
  description = "DynamoDB table of the event log (its stream feeds the publisher)."
  value       = module.tracking.events_table_name
}

output "meta_table" {
  description = "DynamoDB table of counters and the snapshot high-water mark."
  value       = module.tracking.meta_table_name
}

output "ingest_token_secret_arn" {
  description = "Secret holding the bearer token of POST /events/."
  value       = module.api.ingest_token_secret_arn
}

output "app_token_secret_arn" {
  description = "Secret to put the Socrata app token in (null unless create_app_token_secret)."
  value       = module.ingestion.app_token_secret_arn
}

output "geocoding_provider_secret_arns" {
  description = "Secrets to put the geocoding providers' API keys in."
  value       = module.geocoding.provider_secret_arns
}

output "dead_letter_queues" {
  description = "Where failures wait for a person: failed polls, tracker, locator and publisher dead-letter queues."
  value = {
    failed_polls = module.ingestion.failed_polls_queue_url
    tracker      = module.tracking.dlq_url
    locator      = module.geocoding.dlq_url
    publisher    = module.streams.dlq_url
  }
}

output "ecs_cluster" {
  description = "ECS cluster of the API (aws ecs update-service --force-new-deployment after pushing an image)."
  value       = module.api.cluster_name
}

output "ecs_service" {
  description = "ECS service of the API."
  value       = module.api.service_name
}

output "athena_workgroup" {
  description = "Athena workgroup for SQL over the archives (docs/aws.md, History)."
  value       = module.history.workgroup_name
}

output "glue_database" {
  description = "Glue database with the tables raw_snapshots and change_events."
  value       = module.history.database_name
}
