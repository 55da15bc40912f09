# Alarms on the API tier: errors, latency, no healthy replica, and replicas behind the event log.
# All notify alarm_actions (an SNS topic) on alarm and on recovery.

locals {
  lb_dimensions = tomap({ LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.api.arn_suffix })
}

locals {
  lb_alarms = {
    "5xx" = {
      description = "The API answered with 5xx errors (HTTPCode_Target_5XX_Count); see its logs."
      metric      = "HTTPCode_Target_5XX_Count"
      dimensions  = local.lb_dimensions
      statistic   = "Sum"
      percentile  = null
      period      = 300
      periods     = 1
      threshold   = var.alarm_5xx_per_5_minutes
      comparison  = "GreaterThanThreshold"
      missing     = "notBreaching"
    }
    "lb-5xx" = {
      description = "The load balancer itself answered 5xx (502/503/504: no healthy replica, a replica that closed the connection, a timeout)."
      metric      = "HTTPCode_ELB_5XX_Count"
      dimensions  = tomap({ LoadBalancer = aws_lb.this.arn_suffix })
      statistic   = "Sum"
      percentile  = null
      period      = 300
      periods     = 1
      threshold   = var.alarm_5xx_per_5_minutes
      comparison  = "GreaterThanThreshold"
      missing     = "notBreaching"
    }
    # TargetResponseTime is the time to the response headers: an event stream sends them at once,
    # so long-lived /get-events/ connections do not inflate it.
    "slow" = {
      description = "The API's p99 response time stayed above ${var.alarm_latency_p99_seconds} s for 10 minutes."
      metric      = "TargetResponseTime"
      dimensions  = local.lb_dimensions
      statistic   = null
      percentile  = "p99"
      period      = 300
      periods     = 2
      threshold   = var.alarm_latency_p99_seconds
      comparison  = "GreaterThanThreshold"
      missing     = "notBreaching"
    }
    "down" = {
      description = "No API replica passes the health check: the site is down."
      metric      = "HealthyHostCount"
      dimensions  = local.lb_dimensions
      statistic   = "Minimum"
      percentile  = null
      period      = 60
      periods     = 3
      threshold   = 1
      comparison  = "LessThanThreshold"
      missing     = "breaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lb" {
  for_each = local.lb_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.percentile
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.missing
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# Replica lag: how far a replica's newest applied event trails the event log, in seconds, from the
# API's JSON log lines that carry a "replica_lag_s" field (written when a replica reads a missing
# range from the store). The metric filter turns them into a CloudWatch metric.
resource "aws_cloudwatch_log_metric_filter" "replica_lag" {
  name           = "${local.name}-replica-lag"
  log_group_name = aws_cloudwatch_log_group.api.name
  pattern        = "{ $.replica_lag_s = * }"

  metric_transformation {
    name      = "ReplicaLagSeconds"
    namespace = var.metrics_namespace
    value     = "$.replica_lag_s"
    unit      = "Seconds"
  }
}

resource "aws_cloudwatch_metric_alarm" "replica_lag" {
  alarm_name          = "${local.name}-replica-behind"
  alarm_description   = "An API replica trailed the event log by more than ${var.alarm_replica_lag_seconds} s: browsers on it see changes late."
  namespace           = var.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.replica_lag.metric_transformation[0].name
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.alarm_replica_lag_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
