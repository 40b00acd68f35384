"""Reads whose SQL the ORM writes once per process.

Building a queryset's SQL costs Django more than PostgreSQL takes to answer it: 0.3–1 ms
of Python for each of the few queries behind every subscriber page, against 0.07 ms to
send a ready statement and read its rows (docs/performance.md, issue 14). A `Prepared`
read is an ordinary queryset, written once with `Param` placeholders where the values of
each call go; its SQL is compiled on first use (per database) and reused, and its rows
come back through the ORM's own iterables: model instances with their `select_related`
rows and annotations, or `values()` dicts, exactly as the queryset would give them.

    CONTRACTS = Prepared(
        lambda: Contract.objects.filter(user_id=Param("user")).select_related("plan")
    )
    contracts = CONTRACTS.list(user=user.pk)

The builder takes no arguments, so a value of one call cannot end up frozen into the SQL
of the next: whatever changes between calls must be a `Param`.
"""

import copy
import operator
import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Expression, Field, QuerySet


class _Slot:
    """Where a call's value goes in the compiled parameters."""

    __slots__ = ("field", "name")

    def __init__(self, name: str, field: Field):
        self.name = name
        self.field = field


class Param(Expression):
    """A placeholder for a value given at each call. `output_field` prepares the value
    for the database as a lookup on that field would (dates and datetimes on SQLite)."""

    def __init__(self, name: str, output_field: Field | None = None):
        super().__init__(output_field=output_field or Field())
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Slot(self.name, self.output_field)]


class Prepared:
    # Compiled shapes kept per read: one per database and slice asked (a list's pages). A
    # later page beyond these is compiled on each call rather than kept, so that walking
    # ?page=1…100000 cannot grow a process's memory.
    SHAPES_KEPT = 16

    def __init__(self, build: Callable[[], QuerySet]):
        self._build = build
        self._template: QuerySet | None = None
        self._compiled: dict[tuple, tuple] = {}
        self._lock = threading.Lock()

    def list(self, *, rows: slice = slice(None), **values) -> list:
        """The rows for these values, as the queryset would give them; `rows` slices them
        as the queryset would (LIMIT and OFFSET, compiled once for each slice asked)."""
        if self._template is None:
            self._template = self._build()
        queryset = self._template[rows]  # a clone, as slicing makes one
        alias = queryset.db
        connection = connections[alias]
        key = (alias, rows.start, rows.stop)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(queryset, alias)
            with self._lock:
                if len(self._compiled) < self.SHAPES_KEPT:
                    self._compiled[key] = compiled
        compiler, sql, params, columns, converters = compiled
        bound = [
            param.field.get_db_prep_value(values[param.name], connection, prepared=False)
            if isinstance(param, _Slot)
            else param
            for param in params
        ]
        ready = copy.copy(compiler)
        ready.connection = connection
        ready.as_sql = lambda *args, **kwargs: (sql, bound)
        compute_converters = ready.get_converters

        def get_converters(expressions):
            if len(expressions) == len(columns) and all(map(operator.is_, expressions, columns)):
                return converters
            return compute_converters(expressions)

        ready.get_converters = get_converters
        # The ORM's iterable asks the query for its compiler: this one is ready.
        queryset.query.get_compiler = lambda *args, **kwargs: ready
        return list(queryset)

    @staticmethod
    def _compile(queryset: QuerySet, alias: str) -> tuple:
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        # The converters of the columns (dates, decimals, phone numbers) are the same on
        # every call too; they read the database's settings, not its state.
        columns = [column for column, _sql, _alias in compiler.select[: compiler.col_count]]
        return compiler, sql, tuple(params), columns, compiler.get_converters(columns)
