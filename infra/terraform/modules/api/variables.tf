variable "name_prefix" {
  description = "Prefix of every resource name (for example \"dallas-calls\")."
  type        = string
}

# ---- network --------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the load balancer, the tasks and Redis."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing load balancer (two or more Availability Zones)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks and Redis. They need a route to the internet (NAT) or VPC endpoints for ECR, Secrets Manager, CloudWatch Logs, DynamoDB and S3, unless assign_public_ip is true."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (needed when private_subnet_ids are public subnets without NAT, for example a default VPC). Inbound traffic is still limited to the load balancer by the security group."
  type        = bool
  default     = false
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# ---- load balancer --------------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate (same region) of the HTTPS listener; it must cover the name the dashboard and the publisher use."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "Load balancer idle timeout in seconds; above the SSE heartbeat (15 s) so idle event streams stay open."
  type        = number
  default     = 120
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for load balancer access logs (its policy must allow the ELB service); null for none."
  type        = string
  default     = null
}

variable "health_check_path" {
  description = "Path of the target group health check."
  type        = string
  default     = "/healthz"
}

# ---- service --------------------------------------------------------------------------------------

variable "container_image" {
  description = "Image of the API (for example ACCOUNT.dkr.ecr.REGION.amazonaws.com/dallas-calls:TAG)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository of the image, which the task execution role may pull from; null for a public image."
  type        = string
  default     = null
}

variable "container_command" {
  description = "Command of the container: the API alone (events arrive by POST /events/ and Redis)."
  type        = list(string)
  default     = ["dallas-calls", "api"]
}

variable "container_port" {
  description = "Port the API listens on in the container."
  type        = number
  default     = 8000
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "Task CPU architecture: \"X86_64\" or \"ARM64\" (Graviton, cheaper; the image must be built for it)."
  type        = string
  default     = "X86_64"
}

variable "container_insights" {
  description = "CloudWatch Container Insights on the cluster (task-level CPU, memory and network metrics; billed as CloudWatch metrics and logs)."
  type        = bool
  default     = true
}

variable "desired_count" {
  description = "Replicas of the API. Two or more need Redis (always created here) for the fan-out."
  type        = number
  default     = 2
}

variable "autoscaling_enabled" {
  description = "Scale the replicas on CPU between desired_count and autoscaling_max_count."
  type        = bool
  default     = false
}

variable "autoscaling_max_count" {
  description = "Most replicas when autoscaling."
  type        = number
  default     = 6
}

variable "autoscaling_cpu_target" {
  description = "Average CPU percent that autoscaling keeps the service at."
  type        = number
  default     = 60
}

variable "cors_origins" {
  description = "DALLAS_CALLS_CORS_ORIGINS: comma-separated origins allowed to call the API from another site (empty: none)."
  type        = string
  default     = ""
}

variable "extra_environment" {
  description = "More DALLAS_CALLS_* environment variables of the container (no secrets)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "DALLAS_CALLS_LOG_LEVEL of the container."
  type        = string
  default     = "INFO"
}

# ---- data the API reads ---------------------------------------------------------------------------

variable "bucket_name" {
  description = "Archive bucket (the API reads history from it)."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the archive bucket."
  type        = string
}

variable "tables" {
  description = "DynamoDB tables the API reads, by role: { calls = { name, arn }, locations = { name, arn }, meta = { name, arn } }. Each name is passed as DALLAS_CALLS_<ROLE>_TABLE."
  type = map(object({
    name = string
    arn  = string
  }))
}

# ---- Redis ----------------------------------------------------------------------------------------

variable "redis_node_type" {
  description = "ElastiCache node type (pub/sub fan-out only: the smallest is plenty)."
  type        = string
  default     = "cache.t4g.micro"
}

variable "redis_engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "redis_num_cache_clusters" {
  description = "Redis nodes: 1, or 2+ for a replica with automatic failover across Availability Zones."
  type        = number
  default     = 1
}

# ---- common ---------------------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "Customer-managed KMS key (secrets, Redis at rest, logs)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the API's logs."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified by the API's alarms: 5xx, latency, no healthy replica, replica lag."
  type        = list(string)
  default     = []
}

variable "alarm_5xx_per_5_minutes" {
  description = "Alarm when more 5xx answers than this come in 5 minutes (from the replicas, or from the load balancer itself)."
  type        = number
  default     = 5
}

variable "alarm_latency_p99_seconds" {
  description = "Alarm when the p99 time to response headers stays above this for 10 minutes."
  type        = number
  default     = 1
}

variable "alarm_replica_lag_seconds" {
  description = "Alarm when a replica reports trailing the event log by more than this, 3 minutes running."
  type        = number
  default     = 30
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics taken from the logs (replica lag, good polls)."
  type        = string
  default     = "dallas-calls"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
