"""Settings for the benchmark server only (scripts/bench.py): the project's settings,
plus the bench URLconf (the API and a constant-JSON ceiling view) and a switch to turn
the catalog cache off for the uncached measurements."""

from nexus.env import env_bool
from nexus.settings import *  # noqa: F403

ROOT_URLCONF = "scripts.bench_urls"
NEXUS_CATALOG_CACHE = env_bool("BENCH_CATALOG_CACHE", True)
