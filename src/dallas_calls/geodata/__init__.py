"""geo stage of dallas-calls."""
