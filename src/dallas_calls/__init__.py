"""dallas-calls: a live map of Dallas police activity."""

__version__ = "0.1.0"
