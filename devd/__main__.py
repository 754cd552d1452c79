"""Allow `python -m devd`."""

import sys

from devd.cli import main

sys.exit(main())
