"""``python -m meanfield``: the same command line as the ``meanfield`` script."""

import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
