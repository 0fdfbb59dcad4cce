"""``python -m mpcbench`` runs the command line."""

from .cli import main

main()
