"""The real-server fixtures of kamaji.testing (PostgreSQL 15 started once per session)."""

pytest_plugins = ["kamaji.testing.pytest_plugin"]
