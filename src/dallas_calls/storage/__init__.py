"""storage stage of dallas-calls."""
