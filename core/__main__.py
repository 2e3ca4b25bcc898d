"""`python -m mlcycle`: the same as the `mlcycle` command."""

from mlcycle.app.cli import main

main()
