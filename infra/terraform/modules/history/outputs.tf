output "database_name" {
  description = "Glue database holding the tables raw_snapshots and change_events."
  value       = aws_glue_catalog_database.this.name
}

output "workgroup_name" {
  description = "Athena workgroup to run the queries in (docs/aws.md, History)."
  value       = aws_athena_workgroup.this.name
}
