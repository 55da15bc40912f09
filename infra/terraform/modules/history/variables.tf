variable "bucket_name" {
  description = "The archive bucket (storage module output bucket_name)."
  type        = string
}

variable "archive_prefix" {
  description = "Key prefix of the archive inside the bucket (DALLAS_CALLS_ARCHIVE_PREFIX; empty by default): raw/ and changes/ sit under it."
  type        = string
  default     = ""
}

variable "database_name" {
  description = "Glue database of the two tables (letters, digits and underscores)."
  type        = string
  default     = "dallas_calls"
}

variable "workgroup_name" {
  description = "Athena workgroup for these queries."
  type        = string
  default     = "dallas-calls"
}

variable "first_day" {
  description = "First day (yyyy/MM/dd) partition projection considers; days before it are never scanned."
  type        = string
  default     = "2019/01/01"
}

variable "results_prefix" {
  description = "Key prefix in the bucket for Athena's query results (outside raw/ and changes/)."
  type        = string
  default     = "athena-results/"
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query that would scan more than this many bytes (Athena bills per TB scanned)."
  type        = number
  default     = 10737418240
}

variable "kms_key_arn" {
  description = "KMS key that encrypts query results (null: SSE-S3)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource that takes them."
  type        = map(string)
  default     = {}
}
