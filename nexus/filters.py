"""Query filters shared by the apps."""

from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

# Primary keys are BigAutoField (PostgreSQL bigint); ids start at 1.
ID_MIN = 1
ID_MAX = 2**63 - 1


class IdFilter(django_filters.Filter):
    """An object id: a whole number from 1 to 2**63-1, else 400 (``1.5``, ``0``, ``1e305``
    or a number beyond bigint never name an object; beyond bigint they used to reach the
    database and fail there). The schema says the same (nexus/openapi.py)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", ID_MIN)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class _ClampedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time whose UTC value lies beyond the year range Python can hold
    (``9999-12-31T23:59:59-14:00`` is in the year 10000 in UTC) is clamped to the first or
    last representable instant: the filter means the same, and it no longer fails where
    the database driver converts it to UTC (a 500 on SQLite)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None and parsed.tzinfo is not None:
            try:
                parsed.astimezone(UTC)
            except OverflowError:
                edge = datetime.max if parsed.year > 1 else datetime.min
                return edge.replace(tzinfo=UTC)
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` that accepts every valid date-time (see the field above)."""

    field_class = _ClampedIsoDateTimeField
