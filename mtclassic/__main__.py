"""``python -m mtclassic`` runs the command line."""

import sys

from mtclassic.cli import main

if __name__ == "__main__":
    sys.exit(main())
