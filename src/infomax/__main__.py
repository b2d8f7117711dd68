"""``python -m infomax``: the same as the ``infomax`` command."""

import sys

from infomax.cli import main

sys.exit(main())
