"""``python -m qiwidgets``: the same as the ``qiwidgets`` command."""

import sys

from qiwidgets.cli import main

if __name__ == "__main__":
    sys.exit(main())
