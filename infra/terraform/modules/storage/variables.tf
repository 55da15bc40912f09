variable "name_prefix" {
  description = "Prefix of every resource name (for example \"dallas-calls\")."
  type        = string
}

variable "bucket_name" {
  description = "Name of the archive bucket; null for NAME_PREFIX-archive-ACCOUNT_ID-REGION (bucket names are global)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for SSE-KMS on the bucket and for the SNS topic; null for SSE-S3 (AES256) on the bucket and an SNS topic without encryption at rest (S3 cannot publish to a topic encrypted with the AWS-managed aws/sns key)."
  type        = string
  default     = null
}

variable "raw_transition_days" {
  description = "Days after which raw/ snapshots move to STANDARD_IA; null to keep them in STANDARD. S3 requires at least 30, and by default it does not transition objects under 128 KB (most snapshots), see docs/aws.md."
  type        = number
  default     = 30

  validation {
    condition     = var.raw_transition_days == null || try(var.raw_transition_days >= 30, false)
    error_message = "raw_transition_days must be null or at least 30 (the S3 minimum for STANDARD_IA)."
  }
}

variable "raw_expiration_days" {
  description = "Days after which raw/ snapshots expire; null to keep them forever. Must be later than raw_transition_days. changes/ never expires."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_expiration_days == null || try(var.raw_expiration_days >= 1, false)
    error_message = "raw_expiration_days must be null or at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (versioning protects against overwrites and deletes)."
  type        = number
  default     = 30
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs (prefix NAME_PREFIX-archive/); null for no access logging."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a non-empty bucket (all history). Keep false outside experiments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
