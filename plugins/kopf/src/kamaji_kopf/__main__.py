"""``python -m kamaji_kopf``: the operator, as ``kamaji operator``."""

import sys

from kamaji_kopf.cli import main

sys.exit(main())
