"""api stage of dallas-calls."""
