"""``python -m kamaji.bridge --endpoint ... --listen-address ...``: serve the etcd v3 API over SQL."""

import sys

from kamaji.bridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
