"""tracking stage of dallas-calls."""
