"""The real-server fixtures of kamaji.testing come from ``-p kamaji.testing.pytest_plugin`` in the repository's
pytest options. In a repository of your own, load them from its top-level conftest.py instead:

    pytest_plugins = ["kamaji.testing.pytest_plugin"]

and add a fixture here that starts your datastore's throwaway server.
"""
