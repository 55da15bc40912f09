terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # Keep the state remote and encrypted: it holds the generated tokens. For example:
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "dallas-calls/terraform.tfstate"
  #   region       = "us-east-2"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = var.name_prefix }, var.tags)
  }
}
