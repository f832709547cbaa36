"""kamaji: hosted Kubernetes control planes as a Python library.

The public API is re-exported here name by name; everything else is private to its module.
"""

from kamaji.errors import KamajiError, ValidationError

__all__ = ["KamajiError", "ValidationError"]
__version__ = "0.1.0"
