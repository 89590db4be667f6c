"""Typed readers for environment variables, used by settings.py, and the `.env` loader."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_required(name: str, *, unless: bool = False, fallback: str = "") -> str:
    """Return the variable; refuse to start without it unless ``unless`` is true."""
    value = os.environ.get(name)
    if value:
        return value
    if unless:
        return fallback
    raise ImproperlyConfigured(f"The environment variable {name} is required (see .env.example).")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def load_env_file(default: Path) -> Path | None:
    """Load ``NEXUS_ENV_FILE`` (default: ``.env`` beside manage.py) into ``os.environ``
    without overriding what the environment already sets. ``NEXUS_ENV_FILE=`` (empty)
    loads nothing (the test suite does so). Returns the file loaded, if any."""
    from dotenv import load_dotenv

    configured = os.environ.get("NEXUS_ENV_FILE")
    path = default if configured is None else (Path(configured) if configured else None)
    if path is None or not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path
