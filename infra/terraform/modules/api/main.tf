# The live API on ECS Fargate: N replicas behind an application load balancer, Redis (ElastiCache)
# carrying each event to every replica, and the bearer token of POST /events/ in Secrets Manager.

data "aws_region" "current" {}

# The load balancer's addresses lie in the VPC: the tasks trust X-Forwarded-For from them only.
data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  name = "${var.name_prefix}-api"
}

# ---- security groups ------------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Load balancer of ${local.name}: HTTPS (and HTTP, redirected) from the allowed ranges"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.allowed_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.allowed_ingress_cidrs)

  #checkov:skip=CKV_AWS_260:Port 80 is open only to answer with a 301 to HTTPS; nothing is served over plain HTTP.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from ${each.value}, only ever redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "API tasks of ${local.name}: traffic from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "From the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, Logs, DynamoDB, S3)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "To Redis"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.redis.id
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "Redis of ${local.name}: from the API tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "From the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.tasks.id
}

# ---- load balancer --------------------------------------------------------------------------------

# Access logging is optional (access_logs_bucket): it needs a bucket whose policy admits the ELB
# service.
resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL costs at least 5 USD a month plus per-request fees; the API is read-only apart from the token-protected POST /events/ and rate-limits per client. Attach a web ACL (aws_wafv2_web_acl_association) where needed.
  name                       = local.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]

    content {
      bucket  = access_logs.value
      prefix  = local.name
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "api" {
  # TLS ends at the load balancer; the hop to the tasks stays inside the VPC, where security groups
  # admit only the load balancer.
  #
  # Suited to event streams (GET /get-events/ stays open for as long as a page does):
  # - least outstanding requests: an open stream counts as an outstanding request, so new browsers
  #   go to the replica with the fewest streams, and a replica added by autoscaling fills up, where
  #   round robin would leave the long-lived streams where they were.
  # - deregistration delay 30 s: a replica being replaced ends its streams itself on SIGTERM and
  #   each browser reconnects with Last-Event-ID to another one; a longer delay only slows deploys.
  # - the load balancer's idle timeout (idle_timeout, 120 s) is well above the 15 s SSE heartbeat.
  name                          = local.name
  port                          = var.container_port
  protocol                      = "HTTP"
  target_type                   = "ip"
  vpc_id                        = var.vpc_id
  deregistration_delay          = 30
  load_balancing_algorithm_type = "least_outstanding_requests"

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  # Plain HTTP only ever answers with a redirect to HTTPS.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}
