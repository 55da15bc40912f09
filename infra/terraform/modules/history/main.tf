# History at scale: Glue catalog tables over the two archives in S3, so Athena queries the whole
# history in place (no copy, no crawler), and a workgroup that keeps query results encrypted.
#
# Both tables have one string column, `line`: one line of the archived file, parsed by the query
# (json_extract_scalar, json_array_length). A raw snapshot is one line (the feed's JSON array, as
# received); a change record has one event (JSON object) per line. So the tables read the files the
# pipeline writes exactly as written, and a change of the feed's or the events' fields never breaks
# a table definition. Partition projection on `dt` (yyyy/MM/dd, the archive's own key layout) finds
# the partitions without crawlers or MSCK REPAIR, and `WHERE dt BETWEEN ...` reads only those days.

locals {
  archive = "s3://${var.bucket_name}/${var.archive_prefix}"
  tables = {
    raw_snapshots = {
      prefix      = "raw"
      description = "Raw feed snapshots, one row per snapshot file: line = the feed's JSON array as fetched; dt = yyyy/MM/dd (UTC fetch day)."
    }
    change_events = {
      prefix      = "changes"
      description = "The event log, one row per event: line = {id, type, at, data} as published; dt = yyyy/MM/dd (UTC day of the poll)."
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "dallas-calls archives in ${local.archive} (raw snapshots and change events)"
}

resource "aws_glue_catalog_table" "archive" {
  for_each = local.tables

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                      = "TRUE"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy/MM/dd"
    "projection.dt.range"         = "${var.first_day},NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "${local.archive}${each.value.prefix}/$${dt}/"
  }

  partition_keys {
    name    = "dt"
    type    = "string"
    comment = "yyyy/MM/dd: the day folder of the archive key"
  }

  storage_descriptor {
    location      = "${local.archive}${each.value.prefix}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    # Text lines, gzip by file extension; \u0001 never occurs in JSON text, so a line is one field.
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
      parameters = {
        "field.delim"          = "\u0001"
        "serialization.format" = "\u0001"
      }
    }

    columns {
      name    = "line"
      type    = "string"
      comment = "one line of the archived file (JSON)"
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name        = var.workgroup_name
  description = "Queries over the dallas-calls archives (database ${aws_glue_catalog_database.this.name})"
  state       = "ENABLED"

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    result_configuration {
      output_location = "s3://${var.bucket_name}/${var.results_prefix}"

      encryption_configuration {
        encryption_option = var.kms_key_arn == null ? "SSE_S3" : "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  force_destroy = false
  tags          = var.tags
}
