variable "region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-2"
}

variable "name_prefix" {
  description = "Prefix of every resource name; change it to run two deployments in one account."
  type        = string
  default     = "dallas-calls"
}

variable "tags" {
  description = "Tags added to every resource (besides Project = name_prefix)."
  type        = map(string)
  default     = {}
}

variable "lambda_package_dir" {
  description = "Folder holding the deployment zips lambda-{downloader,tracker,locator,publisher}.zip, built by `make package-lambda`."
  type        = string
  default     = "../../../../build"
}

variable "lambda_architecture" {
  description = "Lambda instruction set; must match the wheels `make package-lambda` put in the zip."
  type        = string
  default     = "x86_64"
}

variable "schedule_expression" {
  description = "How often the feed is polled."
  type        = string
  default     = "rate(1 minute)"
}

variable "polling_enabled" {
  description = "Whether the schedule runs."
  type        = bool
  default     = true
}

variable "create_app_token_secret" {
  description = "Create a secret for a Socrata app token (recommended: it lifts the feed's anonymous rate limit)."
  type        = bool
  default     = false
}

variable "geocoders" {
  description = "Online geocoding providers asked after the local sources, in order: any of arcgis, census, nominatim, radar (docs/geocoding-providers.md)."
  type        = list(string)
  default     = []
}

variable "geocoding_provider_secret_names" {
  description = "Online geocoding providers that need an API key (arcgis, radar); each gets a secret to fill by hand."
  type        = set(string)
  default     = []
}

variable "raw_transition_days" {
  description = "Days before raw/ snapshots move to STANDARD_IA (null: never; at least 30)."
  type        = number
  default     = 30
}

variable "raw_expiration_days" {
  description = "Days before raw/ snapshots expire (null: never). changes/ is kept."
  type        = number
  default     = 90
}

variable "domain_name" {
  description = "Name the API and dashboard are served on (covered by certificate_arn), for example calls.example.org."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name, in the same region."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name; when set, an alias record to the load balancer is created. Null: create the DNS record yourself."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the API; null for the region's default VPC (tasks then get public IPs, see docs/aws.md)."
  type        = string
  default     = null
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer; ignored when vpc_id is null."
  type        = list(string)
  default     = []
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks and Redis (with NAT or VPC endpoints); ignored when vpc_id is null."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the API image in the ECR repository this root creates."
  type        = string
  default     = "latest"
}

variable "api_desired_count" {
  description = "API replicas."
  type        = number
  default     = 2
}

variable "api_autoscaling_enabled" {
  description = "Scale the API on CPU between api_desired_count and api_autoscaling_max_count."
  type        = bool
  default     = false
}

variable "api_autoscaling_max_count" {
  description = "Most API replicas when autoscaling."
  type        = number
  default     = 6
}

variable "alarm_email" {
  description = "Email address subscribed to the alarms (failed polls, dead-letter queues, publisher lag); null for none."
  type        = string
  default     = null
}

variable "protect_from_destroy" {
  description = "Deletion protection on the tables and the load balancer; set false (and apply) before `terraform destroy`."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps every log group."
  type        = number
  default     = 365
}
