"""Hand-written hot-path statements read back as the ORM would read them (issue 18).

Building and compiling a queryset with joins and subqueries costs more CPU than
PostgreSQL spends running it; a few per-request reads are therefore written by hand
once per process (identifiers from the models' metadata, every value a parameter) and
their rows converted here with the converters a queryset applies to the same columns
(JSON decoding, SQLite's booleans and decimals, ...), so the instances built from them
carry the same values and types. Each such read keeps its ORM version as the reference
that a test holds it equal to.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import NamedTuple

from django.db import connection
from django.db.models import Field, Model, signals
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
    return _apply_converters(rows, _converters(connection.vendor, columns), connection)


@lru_cache(maxsize=64)
def _table_sql(vendor: str, model, names: tuple[str, ...], order_by: tuple[str, ...]):
    meta, quote = model._meta, connection.ops.quote_name

    def field(name: str) -> Field:
        return meta.pk if name in ("pk", "id") else meta.get_field(name)

    def term(name: str) -> str:
        column = quote(field(name.removeprefix("-")).column)
        return column + (" DESC" if name.startswith("-") else " ASC")

    fields = tuple(field(name) for name in names)

    # Identifiers from the model's metadata only; the statement has no values at all.
    sql = f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)}"  # noqa: S608
    if order_by:
        sql += " ORDER BY " + ", ".join(term(name) for name in order_by)
    return sql, model_columns(model, fields)


def table_rows(model, names: tuple[str, ...], *, order_by: tuple[str, ...] = ()) -> list[tuple]:
    """``model.objects.order_by(*order_by).values_list(*names)`` of a small table read
    whole: the same rows and values, from a statement written once per process.

    For a lookup table loaded whole on every request that needs it (the categories: the
    tree behind every category filter, the ``categories/`` list). The queryset's
    building, compiling and iterating cost about 160 us of CPU more than the statement
    for 25 categories (issue 18, docs/PERFORMANCE.md). ``names`` are field names (or
    their ``attname``, ``parent_id``); ``order_by`` field names, ``-`` for descending.
    """
    sql, columns = _table_sql(connection.vendor, model, tuple(names), tuple(order_by))
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return [tuple(row) for row in rows_converted(rows, columns)]


@contextmanager
def unprepared(using: str = "default") -> Iterator[None]:
    """Statements run inside are planned for their own parameter values, never run as
    prepared statements (``DATABASE_PREPARE_THRESHOLD``, nexus/settings.py).

    PostgreSQL runs a prepared statement with a generic plan once that plan looks no
    dearer than planning each time; for a statement whose best plan depends on its
    values that guess can be wrong (the ranked search page: 11-13 ms planned per call,
    16-19 ms prepared, docs/PERFORMANCE.md). Only PostgreSQL connections prepare."""
    from django.db import connections

    wrapper = connections[using]
    if wrapper.vendor != "postgresql":
        yield
        return
    wrapper.ensure_connection()
    raw = wrapper.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold


def _apply_converters(rows, converters: tuple, db) -> list[list]:
    """``rows`` as lists, each ``(index, functions, expression)`` of ``converters``
    applied to its column as a queryset applies them."""
    result = []
    for row in rows:
        row = list(row)
        for index, functions, expression in converters:
            value = row[index]
            for function in functions:
                value = function(value, expression, db)
            row[index] = value
        result.append(row)
    return result


class CompiledRead:
    """An ORM read compiled to SQL once per database connection, then run again with
    another value: the queryset's own statement, its own converters and its own way of
    building instances (``select_related`` objects included), without building and
    compiling the queryset on every request.

    ``build(value)`` returns the queryset for one value. It is built once with
    ``sentinel`` (a value of the right type that no caller passes), and the one parameter
    of its SQL equal to the sentinel is the slot a caller's value goes into; the caller
    passes the value as the ORM would send it (an ``int`` for an id, a ``str`` for a
    slug). Querysets with prefetches, extra selects or known related objects are refused
    at compile time (their instances need more than the rows). The compiled state lives
    on the connection wrapper (one per thread), so a thread never uses another's.
    """

    def __init__(self, build, sentinel) -> None:
        self.build, self.sentinel = build, sentinel

    def _compile(self, using: str) -> "_Compiled":
        from django.db.models.query import get_related_populators

        queryset = self.build(self.sentinel)
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise ValueError("CompiledRead: prefetches and known related objects need the ORM")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        # Compared by value: a backend may wrap a parameter (psycopg's Int4 for a small
        # integer field), and the caller's value gets the same wrapper in ``run``.
        slots = [index for index, param in enumerate(params) if param == self.sentinel]
        if len(slots) != 1 or compiler.has_extra_select:
            raise ValueError(f"CompiledRead: the sentinel is in {len(slots)} parameters")
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        return _Compiled(
            sql=sql,
            params=list(params),
            slot=slots[0],
            kind=type(params[slots[0]]),
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, select, using),
            converters=tuple(
                (index, tuple(functions), expression)
                for index, (functions, expression) in converters.items()
            ),
            annotations=tuple(compiler.annotation_col_map.items()),
        )

    def run(self, value, using: str = "default") -> list:
        """The instances ``build(value)`` would give, in its order."""
        from django.db import connections

        connection = connections[using]
        compiled = connection.__dict__.setdefault("nexus_compiled_reads", {})
        state = compiled.get(self)
        if state is None:
            state = compiled[self] = self._compile(using)
        params = state.params.copy()
        params[state.slot] = value if type(value) is state.kind else state.kind(value)
        with connection.cursor() as cursor:
            cursor.execute(state.sql, params)
            rows = _apply_converters(cursor.fetchall(), state.converters, connection)
        objects = []
        for row in rows:
            obj = state.model.from_db(using, state.init_list, row[state.start : state.end])
            for populator in state.populators:
                populator.populate(row, obj)
            for name, position in state.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


class _Compiled(NamedTuple):
    """What ``CompiledRead`` keeps per connection: the statement and its parameters (the
    caller's value goes in ``slot``, as a ``kind``), and how the queryset builds its
    instances from a row (the model's columns ``start:end``, the ``select_related``
    populators, the converters, the annotations)."""

    sql: str
    params: list
    slot: int
    kind: type
    model: type
    init_list: list[str]
    start: int
    end: int
    populators: list
    converters: tuple
    annotations: tuple


@cache
def _write_sql(vendor: str, verb: str, model, assigned: tuple[str, ...], where: tuple[str, ...]):
    quote = connection.ops.quote_name
    meta = model._meta
    sets = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in assigned)
    conditions = " AND ".join(f"{quote(meta.get_field(name).column)} = %s" for name in where)
    # Identifiers from the model's metadata only; every value is a parameter.
    if verb == "UPDATE":
        return f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {conditions}"  # noqa: S608
    if meta.related_objects or meta.many_to_many:
        # A row others point to needs the ORM's collector (cascades, SET NULL, PROTECT).
        raise ValueError(f"delete_where: {meta.label} has related objects")
    return f"DELETE FROM {quote(meta.db_table)} WHERE {conditions}"  # noqa: S608


def _written(model, verb: str, values: dict, where: dict) -> int:
    if None in where.values():
        raise ValueError("update_where/delete_where: None matches nothing; use the ORM's isnull")
    meta = model._meta
    params = [
        meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()
    ]
    params += [
        meta.get_field(name).get_db_prep_value(value, connection) for name, value in where.items()
    ]
    sql = _write_sql(connection.vendor, verb, model, tuple(values), tuple(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_where(model, values: dict, where: dict) -> int:
    """``model.objects.filter(**where).update(**values)`` for plain equalities and
    plain values (no expressions, no lookups), written once per process instead of
    built and compiled per call; the number of rows updated. Values and conditions go
    through their fields' database preparation as the ORM's would (dates, JSON, foreign
    keys by id). ``auto_now`` fields are not set for you: pass them, as ``update`` wants."""
    return _written(model, "UPDATE", values, where)


def delete_where(model, where: dict) -> int:
    """``model.objects.filter(**where).delete()`` for a model nothing points to and no
    signal watches (refused otherwise: the ORM's collector is needed), as one DELETE;
    the number of rows deleted."""
    if any(signal.has_listeners(model) for signal in (signals.pre_delete, signals.post_delete)):
        raise ValueError(f"delete_where: {model._meta.label} has delete signal receivers")
    return _written(model, "DELETE", {}, where)


@lru_cache(maxsize=256)
def _insert_sql(vendor: str, model, rows: int) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    if list(meta.db_returning_fields) != [meta.pk]:
        # Columns the database fills in (db_default, generated) need the ORM's read-back.
        raise ValueError(f"insert_new: {meta.label} has columns the database fills in")
    quote = connection.ops.quote_name
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.pk)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Identifiers from the model's metadata only; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    sql += ", ".join([row] * rows)
    if connection.features.can_return_rows_from_bulk_insert:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields


def _inserted(model, objs: list, operation: str) -> None:
    """One INSERT of the unsaved ``objs`` of ``model``, their ids read back in order."""
    sql, fields = _insert_sql(connection.vendor, model, len(objs))
    params = []
    for obj in objs:
        if obj.pk is not None:
            raise ValueError(f"{operation}: the database assigns the id")
        obj._prepare_related_fields_for_save(operation_name=operation)
        params += [
            field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_rows_from_bulk_insert:
            ids = [row[0] for row in cursor.fetchall()]
        else:  # one row (insert_all takes bulk_create's path for more)
            ids = [
                connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
            ]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias


def insert_new(model, **values):
    """``model.objects.create(**values)`` as one INSERT written once per process: the
    instance is built as ``create`` builds it (field defaults, ``auto_now_add`` set by
    the fields' ``pre_save``), every column goes through its field's database
    preparation, and the new id is read back. For a model whose id the database assigns
    and that has no ``save()`` of its own, no ``db_default`` or generated column and no
    save signal receivers (refused otherwise)."""
    if model.save is not Model.save:
        raise ValueError(f"insert_new: {model._meta.label} has a save() of its own")
    if any(signal.has_listeners(model) for signal in (signals.pre_save, signals.post_save)):
        raise ValueError(f"insert_new: {model._meta.label} has save signal receivers")
    obj = model(**values)
    _inserted(model, [obj], "save")
    return obj


def insert_all(objs: list) -> list:
    """``bulk_create(objs)`` of unsaved instances of one model as one INSERT written once
    per process and row count (ids read back in order, as ``bulk_create`` sets them).
    Where the backend cannot return the ids of a multi-row insert, or the rows exceed
    its parameter limit, it is ``bulk_create`` itself."""
    if not objs:
        return objs
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise ValueError("insert_all: instances of one model only")
    fields = model._meta.local_concrete_fields
    fits = connection.ops.bulk_batch_size(fields, objs) >= len(objs)
    if len(objs) > 1 and not (fits and connection.features.can_return_rows_from_bulk_insert):
        return model.objects.bulk_create(objs)
    _inserted(model, objs, "bulk_create")
    return objs
