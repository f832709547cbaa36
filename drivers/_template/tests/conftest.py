"""The real-server fixtures of kamaji.testing (start your datastore's throwaway server here, or add one there)."""

pytest_plugins = ["kamaji.testing.pytest_plugin"]
