"""`python -m tfl` runs the `tfl` command."""

import sys

from tfl.cli.main import main

sys.exit(main())
