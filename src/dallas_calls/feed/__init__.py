"""feed stage of dallas-calls."""
