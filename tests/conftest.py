"""Shared pytest configuration: the real-server fixtures of kamaji.testing."""

pytest_plugins = ["kamaji.testing.pytest_plugin"]
