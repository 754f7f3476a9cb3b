"""``python -m oredox.cli``: the same as the ``oredox`` command."""

from oredox.cli import main

if __name__ == "__main__":
    main()
