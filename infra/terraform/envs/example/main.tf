# An example deployment: every module wired together, plus the few things a root owns (the KMS key,
# the image repository, the network choice, DNS and the alarm topic).

locals {
  use_default_vpc    = var.vpc_id == null
  vpc_id             = local.use_default_vpc ? data.aws_vpc.default[0].id : var.vpc_id
  public_subnet_ids  = local.use_default_vpc ? data.aws_subnets.default[0].ids : var.public_subnet_ids
  private_subnet_ids = local.use_default_vpc ? data.aws_subnets.default[0].ids : var.private_subnet_ids
  alarm_actions      = var.alarm_email == null ? [] : [aws_sns_topic.alarms.arn]
  api_url            = "https://${var.domain_name}"
}

data "aws_vpc" "default" {
  count   = local.use_default_vpc ? 1 : 0
  default = true
}

data "aws_subnets" "default" {
  count = local.use_default_vpc ? 1 : 0

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default[0].id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

module "kms" {
  source = "../../modules/kms"

  name_prefix = var.name_prefix
}

# ---- alarms ---------------------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = module.kms.key_arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ---- pipeline -------------------------------------------------------------------------------------

# One zip per function (`make package-lambda`: build/lambda-NAME.zip, each with only the packages
# that function imports), copied to the archive bucket (outside raw/ and changes/) under its hash:
# the functions deploy from there, so a zip above the 50 MB direct-upload limit would work too.
locals {
  lambda_packages = { for f in ["downloader", "tracker", "locator", "publisher"] : f => "${var.lambda_package_dir}/lambda-${f}.zip" }
}

resource "aws_s3_object" "lambda_package" {
  for_each = local.lambda_packages

  bucket      = module.storage.bucket_name
  key         = "deploy/lambda-${each.key}-${filemd5(each.value)}.zip"
  source      = each.value
  source_hash = filemd5(each.value)
  kms_key_id  = module.kms.key_arn
}

module "storage" {
  source = "../../modules/storage"

  name_prefix         = var.name_prefix
  kms_key_arn         = module.kms.key_arn
  raw_transition_days = var.raw_transition_days
  raw_expiration_days = var.raw_expiration_days
}

module "ingestion" {
  source = "../../modules/ingestion"

  name_prefix             = var.name_prefix
  schedule_expression     = var.schedule_expression
  enabled                 = var.polling_enabled
  package_path            = local.lambda_packages["downloader"]
  package_s3_bucket       = aws_s3_object.lambda_package["downloader"].bucket
  package_s3_key          = aws_s3_object.lambda_package["downloader"].key
  architecture            = var.lambda_architecture
  create_app_token_secret = var.create_app_token_secret
  bucket_name             = module.storage.bucket_name
  bucket_arn              = module.storage.bucket_arn
  raw_prefix              = module.storage.raw_prefix
  meta_table_name         = module.tracking.meta_table_name
  meta_table_arn          = module.tracking.meta_table_arn
  kms_key_arn             = module.kms.key_arn
  log_retention_days      = var.log_retention_days
  alarm_actions           = local.alarm_actions
}

module "tracking" {
  source = "../../modules/tracking"

  name_prefix          = var.name_prefix
  topic_arn            = module.storage.raw_created_topic_arn
  bucket_name          = module.storage.bucket_name
  bucket_arn           = module.storage.bucket_arn
  raw_prefix           = module.storage.raw_prefix
  package_path         = local.lambda_packages["tracker"]
  package_s3_bucket    = aws_s3_object.lambda_package["tracker"].bucket
  package_s3_key       = aws_s3_object.lambda_package["tracker"].key
  architecture         = var.lambda_architecture
  locations_table_arn  = module.geocoding.locations_table_arn
  locations_table_name = module.geocoding.locations_table_name
  deletion_protection  = var.protect_from_destroy
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
  alarm_actions        = local.alarm_actions
}

module "geocoding" {
  source = "../../modules/geocoding"

  name_prefix           = var.name_prefix
  topic_arn             = module.storage.raw_created_topic_arn
  bucket_name           = module.storage.bucket_name
  bucket_arn            = module.storage.bucket_arn
  raw_prefix            = module.storage.raw_prefix
  package_path          = local.lambda_packages["locator"]
  package_s3_bucket     = aws_s3_object.lambda_package["locator"].bucket
  package_s3_key        = aws_s3_object.lambda_package["locator"].key
  architecture          = var.lambda_architecture
  geocoders             = var.geocoders
  provider_secret_names = var.geocoding_provider_secret_names
  meta_table_name       = module.tracking.meta_table_name
  meta_table_arn        = module.tracking.meta_table_arn
  events_table_name     = module.tracking.events_table_name
  events_table_arn      = module.tracking.events_table_arn
  deletion_protection   = var.protect_from_destroy
  kms_key_arn           = module.kms.key_arn
  log_retention_days    = var.log_retention_days
  alarm_actions         = local.alarm_actions
}

module "streams" {
  source = "../../modules/streams"

  name_prefix = var.name_prefix
  stream_arns = {
    events = module.tracking.events_stream_arn
  }
  bucket_name             = module.storage.bucket_name
  bucket_arn              = module.storage.bucket_arn
  changes_prefix          = module.storage.changes_prefix
  api_url                 = local.api_url
  ingest_token_secret_arn = module.api.ingest_token_secret_arn
  package_path            = local.lambda_packages["publisher"]
  package_s3_bucket       = aws_s3_object.lambda_package["publisher"].bucket
  package_s3_key          = aws_s3_object.lambda_package["publisher"].key
  architecture            = var.lambda_architecture
  kms_key_arn             = module.kms.key_arn
  log_retention_days      = var.log_retention_days
  alarm_actions           = local.alarm_actions
}

# Glue tables over raw/ and changes/, and an Athena workgroup: SQL over the whole history in place.
module "history" {
  source = "../../modules/history"

  bucket_name    = module.storage.bucket_name
  database_name  = replace(var.name_prefix, "-", "_")
  workgroup_name = var.name_prefix
  kms_key_arn    = module.kms.key_arn
}

# ---- API ------------------------------------------------------------------------------------------

resource "aws_ecr_repository" "api" {
  name                 = var.name_prefix
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = module.kms.key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "api" {
  repository = aws_ecr_repository.api.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the 20 newest images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 20
        }
        action = { type = "expire" }
      },
    ]
  })
}

module "api" {
  source = "../../modules/api"

  name_prefix           = var.name_prefix
  vpc_id                = local.vpc_id
  public_subnet_ids     = local.public_subnet_ids
  private_subnet_ids    = local.private_subnet_ids
  assign_public_ip      = local.use_default_vpc
  certificate_arn       = var.certificate_arn
  deletion_protection   = var.protect_from_destroy
  container_image       = "${aws_ecr_repository.api.repository_url}:${var.image_tag}"
  ecr_repository_arn    = aws_ecr_repository.api.arn
  desired_count         = var.api_desired_count
  autoscaling_enabled   = var.api_autoscaling_enabled
  autoscaling_max_count = var.api_autoscaling_max_count
  bucket_name           = module.storage.bucket_name
  bucket_arn            = module.storage.bucket_arn
  tables = {
    calls     = { name = module.tracking.calls_table_name, arn = module.tracking.calls_table_arn }
    locations = { name = module.geocoding.locations_table_name, arn = module.geocoding.locations_table_arn }
    meta      = { name = module.tracking.meta_table_name, arn = module.tracking.meta_table_arn }
    events    = { name = module.tracking.events_table_name, arn = module.tracking.events_table_arn }
  }
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  alarm_actions      = local.alarm_actions
}

resource "aws_route53_record" "api" {
  count = var.route53_zone_id == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.api.alb_dns_name
    zone_id                = module.api.alb_zone_id
    evaluate_target_health = true
  }
}
