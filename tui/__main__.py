"""``python -m tui`` runs the bxtui command line."""

import sys

from tui.cli import main

sys.exit(main())
