variable "name" {
  description = "Name of the queue; the dead-letter queue is NAME-dlq."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic the queue subscribes to."
  type        = string
}

variable "raw_message_delivery" {
  description = "Deliver the published message itself (the S3 event JSON) as the SQS body, without the SNS envelope."
  type        = bool
  default     = true
}

variable "filter_policy" {
  description = "SNS filter policy (JSON) on the message body, or null to receive everything."
  type        = string
  default     = null
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout; AWS advises at least six times the consuming function's timeout."
  type        = number
}

variable "message_retention_seconds" {
  description = "How long an unconsumed message stays in the queue."
  type        = number
  default     = 345600
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "dlq_message_retention_seconds" {
  description = "How long a message stays in the dead-letter queue (the maximum is 14 days)."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting both queues."
  type        = string
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when the dead-letter queue holds messages; empty for an alarm without actions."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
