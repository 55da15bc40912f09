"""archive stage of dallas-calls."""
