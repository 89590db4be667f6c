"""Hand-written hot-path statements read back as the ORM would read them (issue 18).

Building and compiling a queryset with joins and subqueries costs more CPU than
PostgreSQL spends running it; a few per-request reads are therefore written by hand
once per process (identifiers from the models' metadata, every value a parameter) and
their rows converted here with the converters a queryset applies to the same columns
(JSON decoding, SQLite's booleans and decimals, ...), so the instances built from them
carry the same values and types. Each such read keeps its ORM version as the reference
that a test holds it equal to.
"""

from collections.abc import Sequence
from functools import cache

from django.db import connection
from django.db.models import Field
from django.db.models.expressions import Col


@cache
def _converters(vendor: str, columns: tuple[tuple[str, Field], ...]) -> tuple:
    from django.contrib.auth import get_user_model

    # Any model's compiler: only its connection's converters are asked for.
    compiler = get_user_model().objects.none().query.get_compiler(connection=connection)
    expressions = [Col(table, field) for table, field in columns]
    return tuple(
        (index, tuple(functions), expression)
        for index, (functions, expression) in compiler.get_converters(expressions).items()
    )


def qualified_column(table: str, model, name: str) -> str:
    """``table.column`` of the field ``name`` of ``model``, quoted for this connection;
    ``table`` is the already quoted table name or alias."""
    return f"{table}.{connection.ops.quote_name(model._meta.get_field(name).column)}"


def model_columns(model, fields: Sequence[Field] | None = None) -> tuple[tuple[str, Field], ...]:
    """``(table, field)`` of ``fields`` (default: every concrete field) of ``model``."""
    table = model._meta.db_table
    return tuple((table, field) for field in (fields or model._meta.concrete_fields))


def rows_converted(rows, columns: tuple[tuple[str, Field], ...]) -> list[list]:
    """``rows`` (tuples from a cursor) as lists whose first ``len(columns)`` values went
    through the converters of those model columns; later values are left as they are."""
    converters = _converters(connection.vendor, columns)
    result = []
    for row in rows:
        row = list(row)
        for index, functions, expression in converters:
            value = row[index]
            for function in functions:
                value = function(value, expression, connection)
            row[index] = value
        result.append(row)
    return result
