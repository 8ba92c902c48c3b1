"""``python -m agora`` runs the command line."""

from agora.cli import main

main()
