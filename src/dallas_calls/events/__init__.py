"""events stage of dallas-calls."""
