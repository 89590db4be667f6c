#!/usr/bin/env python
"""Demo data loader: ``python scripts/seed_database.py --products 200`` (same options as
``manage.py seed_database``; see ``--help``). Sets Django up itself, from the same
environment variables as manage.py (DJANGO_DEBUG=1 for the SQLite quick start)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("seed_database", *argv)


if __name__ == "__main__":
    main(sys.argv[1:])
