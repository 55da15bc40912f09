# Redis is the event bus between replicas (pub/sub only; it holds no state worth a backup).

resource "aws_elasticache_subnet_group" "bus" {
  name        = "${local.name}-bus"
  description = "Subnets of the ${local.name} Redis"
  subnet_ids  = var.private_subnet_ids
  tags        = var.tags
}

resource "aws_elasticache_replication_group" "bus" {
  #checkov:skip=CKV2_AWS_50:One node by default: the bus keeps no state, and while a failed node is replaced events reach only the clients of the replica that received them (the table and the archive still have everything). A failover replica doubles the cost; set redis_num_cache_clusters = 2 for it.
  replication_group_id       = "${local.name}-bus"
  description                = "Event fan-out between ${local.name} replicas"
  engine                     = "redis"
  engine_version             = var.redis_engine_version
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_cache_clusters
  automatic_failover_enabled = var.redis_num_cache_clusters > 1
  multi_az_enabled           = var.redis_num_cache_clusters > 1
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.bus.name
  security_group_ids         = [aws_security_group.redis.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = aws_secretsmanager_secret_version.redis_auth.secret_string
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 0
  apply_immediately          = true
  tags                       = var.tags
}
