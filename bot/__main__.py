"""Run the command line: ``python -m bot …`` is the same as ``villagebot …``."""

from bot.cli import main

main()
