"""Optional online geocoders, asked after the local sources."""
