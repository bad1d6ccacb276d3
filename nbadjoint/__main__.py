"""``python -m nbadjoint``: the terminal entry point (see `nbadjoint.cli`)."""

import sys

from nbadjoint.cli import main

sys.exit(main())
