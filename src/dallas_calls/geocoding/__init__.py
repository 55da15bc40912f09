"""geocoding stage of dallas-calls."""
