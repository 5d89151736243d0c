"""``python -m fulfil`` runs the command line (the service starts its jobs this way)."""

import sys

from fulfil.cli import main

sys.exit(main())
