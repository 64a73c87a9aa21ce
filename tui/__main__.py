"""``python -m tui`` runs the bxtui command line."""

from tui.cli import entry

entry()
