"""``python -m gepgeo`` is the ``gepgeo`` command."""

from .cli import main

main()
