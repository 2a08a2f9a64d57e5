"""`python -m scanctl`: the same as the `scanctl` console script."""

import sys

from scanctl.cli import main

sys.exit(main())
