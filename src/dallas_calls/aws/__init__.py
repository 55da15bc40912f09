"""aws stage of dallas-calls."""
