"""``python -m fulfil`` runs the command line (the service starts its jobs this way)."""

from fulfil.cli import run

run()
