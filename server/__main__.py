"""`python -m server`: the same command line as `samling`."""

import sys

from .cli import main

sys.exit(main())
