"""``python -m processor`` is the ``processor`` console script."""

import sys

from processor.cli import main

sys.exit(main())
