variable "function_name" {
  description = "Name of the Lambda function (also names its role and log group)."
  type        = string
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Python handler, for example \"dallas_calls.aws.handlers.downloader\"."
  type        = string
}

variable "package_path" {
  description = "Path of the deployment zip (built by `make package-lambda`)."
  type        = string
}

variable "package_s3_bucket" {
  description = "Bucket holding a copy of the zip to deploy from (needed above the 50 MB direct-upload limit); null to upload package_path directly."
  type        = string
  default     = null
}

variable "package_s3_key" {
  description = "Key of the zip in package_s3_bucket."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Instruction set: \"arm64\" (cheaper per GB-second) or \"x86_64\". Must match the wheels in the zip."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 60
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function; null for none. Accounts whose concurrency quota is 10 cannot reserve any: use null there."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables. No secrets here: pass a secret's ARN and read it at run time."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "IAM policy document (JSON) with exactly the actions and resources this function needs, besides its logs, X-Ray and KMS."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key: encrypts the log group and environment, and the function may use it through kms_via_services."
  type        = string
}

variable "kms_via_services" {
  description = "AWS services (without region, for example [\"s3\", \"sqs\"]) through which the function may use the KMS key to read or write encrypted data."
  type        = list(string)
  default     = []
}

variable "kms_encrypt" {
  description = "Whether the function also needs kms:GenerateDataKey (it writes encrypted data), not only kms:Decrypt."
  type        = bool
  default     = false
}

variable "tracing_mode" {
  description = "X-Ray tracing: \"Active\" or \"PassThrough\"."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be \"Active\" or \"PassThrough\"."
  }
}

variable "dead_letter_target_arn" {
  description = "SQS queue or SNS topic receiving failed asynchronous invocations; null for functions only invoked synchronously (event source mappings)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
