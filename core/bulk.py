"""Writing many rows at once: a settlement file credits thousands of payments.

Django's `bulk_create` and `bulk_update` are right for tens of rows. For tens of
thousands, on PostgreSQL, these cost a fraction: COPY for inserts, one UPDATE joined to
one array per column (a VALUES list on SQLite) for updates, and `field__any=[…]`, an IN
list sent as one array. Measured figures are in docs/performance.md.
"""

import datetime
import re
from collections.abc import Sequence
from decimal import Decimal

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import ColPairs
from django.db.models.fields import AutoFieldMixin
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In

# Rows per statement: 500 rows of a few fields stay under every parameter limit.
ROWS_PER_STATEMENT = 500


def rows_insert(model: type[Model], *, objects: Sequence[Model]) -> list[Model]:
    """Insert the objects in order, each getting its id, as `bulk_create` would.

    On PostgreSQL through COPY, with ids drawn from the table's identity sequence first
    (COPY returns nothing): about a third of the time of multi-row INSERTs, which cost
    most of a large settlement import. Elsewhere (SQLite) it is `bulk_create`. Like
    `bulk_create`, it calls no `save()` and sends no signals.
    """
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    if (
        connection.vendor != "postgresql"
        or not objects
        or not isinstance(meta.pk, AutoFieldMixin)
        or any(obj.pk is not None for obj in objects)
    ):
        return model._default_manager.bulk_create(objects, batch_size=ROWS_PER_STATEMENT)
    fields = meta.concrete_fields
    quote = connection.ops.quote_name
    # Every row is made before anything is sent: a wrong value fails here, not half-way.
    rows = [
        [
            _copy_value(
                field,
                _value(obj, field) if field.is_relation else field.pre_save(obj, True),
                connection,
            )
            for field in fields
        ]
        for obj in objects
    ]
    id_position = fields.index(meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        for row, pk in zip(rows, ids, strict=True):
            row[id_position] = pk
        columns = ", ".join(quote(field.column) for field in fields)
        # COPY goes to psycopg directly: its errors become Django's (IntegrityError…).
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(
                f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"  # names from the model
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objects)


def rows_update(model: type[Model], *, objects: Sequence[Model], fields: Sequence[str]) -> int:
    """Write `fields` of every object to its row; returns how many rows were updated.

    One `UPDATE … FROM` per 500 objects, joined to the new values: on PostgreSQL one
    array per column (`unnest`), on SQLite 3.33+ a VALUES list. Django's `bulk_update`
    sends a `CASE WHEN` with one branch per row for each field, which the database walks
    for every row: on PostgreSQL 500 payments of 5 fields took about 0.9 ms a row that
    way, against 0.05 ms joined to a VALUES list.
    """
    if not objects:
        return 0
    connection = connections[router.db_for_write(model)]
    if connection.vendor == "sqlite" and connection.Database.sqlite_version_info < (3, 33):
        return model._default_manager.bulk_update(objects, fields, batch_size=100)
    quote = connection.ops.quote_name
    concrete = [model._meta.get_field(name) for name in fields]
    table = quote(model._meta.db_table)
    pk_column = quote(model._meta.pk.column)
    assignments = ", ".join(
        f"{quote(field.column)} = v.column{position}"
        for position, field in enumerate(concrete, start=2)
    )
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objects), ROWS_PER_STATEMENT):
            batch = objects[start : start + ROWS_PER_STATEMENT]
            columns = [[obj.pk for obj in batch]] + [
                [field.get_db_prep_save(_value(obj, field), connection) for obj in batch]
                for field in concrete
            ]
            if connection.vendor == "postgresql":
                # One array per column: a statement of 500 rows has 6 parameters, not
                # 3,000, which psycopg would spend milliseconds splitting on every call.
                arrays = ", ".join(
                    f"CAST(%s AS {_array_type(field, connection)})"
                    for field in [model._meta.pk, *concrete]
                )
                source = f"unnest({arrays}) AS v({', '.join(_value_columns(len(columns)))})"
                params = columns
            else:
                row = "(" + ", ".join(["%s"] * len(columns)) + ")"
                source = f"(VALUES {', '.join([row] * len(batch))}) AS v"
                params = [value for values in zip(*columns, strict=True) for value in values]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608 (names from the model)
                f"WHERE {table}.{pk_column} = v.column1",
                params,
            )
            updated += cursor.rowcount
    return updated


def _value_columns(count: int) -> list[str]:
    """The names SQLite gives a VALUES list's columns, given to PostgreSQL's too."""
    return [f"column{position}" for position in range(1, count + 1)]


# "(40)" of varchar(40), "(14, 2)" of numeric(14, 2), "(3)" of timestamp(3) with time zone.
_SIZE = re.compile(r"\(\d+(,\s*\d+)?\)")


def _array_type(field: Field, connection: BaseDatabaseWrapper) -> str:
    """The column's type as an array, without length or precision: a value too long
    must be refused by the column, not cut by the cast."""
    return f"{_SIZE.sub('', field.db_type(connection))}[]"


class _AnyArray:
    """`= ANY(array)` on PostgreSQL for an `In` lookup given a list of values."""

    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value() or isinstance(self.lhs, ColPairs):
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Prepared as IN prepares them (None dropped, duplicates once); empty: no rows.
        _placeholders, values = self.process_rhs(compiler, connection)
        array_type = _array_type(self.lhs.output_field, connection)
        return f"{lhs} = ANY(CAST(%s AS {array_type}))", (*lhs_params, list(values))


class AnyOf(_AnyArray, In):
    """`field__any=values`: `field__in=values`, sent to PostgreSQL as one array.

    `pk IN (%s, %s, …)` with 500 values costs psycopg about a millisecond of splitting
    the statement at each placeholder, on every call; `pk = ANY(%s)` costs nothing of
    the kind. Other databases get `IN (…)`. Registered by CoreConfig on every
    field; `RelatedAnyOf` is the same for foreign keys (`contract__any=[…]`).
    """


class RelatedAnyOf(_AnyArray, RelatedIn):
    """`AnyOf` for a foreign key: the values may be ids or objects."""


# COPY sends every value as text and PostgreSQL parses it by the column's type, so these
# need none of Django's preparation (which costs more than the COPY itself).
_COPY_AS_IS = frozenset({str, int, bool, Decimal, datetime.date})


def _copy_value(field: Field, value: object, connection: BaseDatabaseWrapper) -> object:
    if value is None or type(value) in _COPY_AS_IS:
        return value
    if type(value) is datetime.datetime and value.tzinfo is not None:
        return value
    return field.get_db_prep_save(value, connection)


def _value(obj: Model, field: Field) -> object:
    if field.is_relation:
        # A related object assigned before it was saved: its id is known only now.
        related = field.get_cached_value(obj, default=None)
        if related is not None:
            if related.pk is None:
                raise ValueError(
                    f"{obj._meta.label}.{field.name}: the related object is not saved yet"
                )
            return related.pk
    return getattr(obj, field.attname)
