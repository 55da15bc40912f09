"""Real, in-process stand-ins for external services (a fake Socrata server) and shared test data.

They are real servers on 127.0.0.1, not mocks: tests exercise the same HTTP stack as production.
"""
