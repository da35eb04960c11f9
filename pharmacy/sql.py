"""Plain SQL on the hottest paths (a NewRx through the API, its token and role): the
ORM's query compiler cost the web process more than PostgreSQL spent running these
statements, and PostgreSQL spent more planning them than running them.

- ``prepared(name, sql)``: ``sql`` as a server-side prepared statement of this
  connection. PostgreSQL plans every statement psycopg2 sends it; the token lookup took
  0.4 to 1 ms to plan and 0.05 ms to run. Prepared once per connection (``PREPARE``),
  it is planned again only when PostgreSQL finds its generic plan no good, and each use
  is an ``EXECUTE`` with the parameters. It returns the SQL to run in place of ``sql``,
  with the same parameters. A prepared statement belongs to its connection, lasts as
  long as it does and, unlike the rest of a transaction, survives a rollback, so which
  names a connection holds is kept beside it and forgotten when Django opens another.
  Keep it to statements whose one generic plan is right for every value (lookups by a
  key, inserts).
- ``fetch_models(model, sql, params)``: instances from rows, like ``model.objects.raw``
  at half its CPU.
- ``insert(instance)``: what ``instance.save()`` does for a new row, as a prepared
  statement without the compiler.
"""

import hashlib
import re

from django.db import connection
from django.db.models import Model, signals
from django.db.models.base import DEFERRED
from django.db.models.expressions import DatabaseDefault

# psycopg2's positional placeholder; named ones (%(name)s) are not supported here.
_PLACEHOLDER = re.compile(r"%s")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _numbered(sql: str) -> tuple[str, int]:
    """``sql`` with its %s placeholders numbered $1, $2, ... as PREPARE wants them, and
    how many there are. A literal percent sign must be written %% (as for psycopg2)."""
    count = 0

    def number(_match) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql).replace("%%", "%"), count


def prepared(name: str, sql: str) -> str:
    """``EXECUTE name(%s, ...)``: ``sql`` as the prepared statement ``name`` of this
    thread's connection, prepared first if the connection does not hold it yet. Run
    the result with the parameters ``sql`` takes. ``name`` must be unique to ``sql``
    (lower case, digits, underscores)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a statement name: {name!r}")
    if "%(" in sql:
        raise ValueError("prepared statements take positional %s parameters only")
    connection.ensure_connection()
    raw = connection.connection
    held = getattr(connection, "_prepared_statements", None)
    if held is None or held[0] is not raw:
        held = (raw, {})
        connection._prepared_statements = held
    count = held[1].get(name)
    if count is None:
        text, count = _numbered(sql)
        # On psycopg2's own cursor: bookkeeping, not one of the request's statements,
        # so Django's query log and counts see only the EXECUTE, whenever it prepares.
        with connection.wrap_database_errors, raw.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {text}")
        held[1][name] = count
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


# (model, column names) -> how to make the model's instances from such rows.
_layouts: dict = {}


def _layout(model, names: tuple[str, ...]) -> tuple:
    """For rows of these columns: each concrete field's column position (None: not
    selected, deferred), the converters of the selected fields that have one (JSON, for
    one), and the other columns, set as attributes as ``raw`` does."""
    fields = model._meta.concrete_fields
    positions = {name: index for index, name in enumerate(names)}
    if model._meta.pk.column not in positions:
        raise ValueError(f"the rows of a {model.__name__} must include its primary key")
    field_positions = [positions.get(field.column) for field in fields]
    converters = [
        (order, field.from_db_value)
        for order, (field, position) in enumerate(zip(fields, field_positions, strict=True))
        if position is not None and hasattr(field, "from_db_value")
    ]
    columns = {field.column for field in fields}
    extras = [(index, name) for index, name in enumerate(names) if name not in columns]
    layout = (field_positions, converters, extras)
    _layouts[(model, names)] = layout
    return layout


def fetch_models(model, sql: str, params) -> list:
    """Instances of ``model`` from the rows of ``sql`` (``prepared`` SQL or any other),
    like ``model.objects.raw(sql, params)`` (columns matched to fields by name, fields not
    selected deferred, other columns as attributes) at half its CPU: the matching is
    worked out once per column layout instead of on every call."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = tuple(column.name for column in cursor.description)
        rows = cursor.fetchall()
    field_positions, converters, extras = _layouts.get((model, names)) or _layout(model, names)
    instances = []
    for row in rows:
        values = [DEFERRED if position is None else row[position] for position in field_positions]
        for order, convert in converters:
            values[order] = convert(values[order], None, connection)
        instance = model.from_db(connection.alias, None, values)
        for index, name in extras:
            setattr(instance, name, row[index])
        instances.append(instance)
    return instances


# (model, placeholders) -> (name, SQL) of the prepared INSERT of that shape.
_inserts: dict = {}


def insert(instance):
    """Insert a new model instance as ``save()`` would (field defaults, ``auto_now_add``,
    database defaults such as the Rx number's sequence read back with the primary key),
    as a prepared statement and without the ORM's compiler, which cost more than
    PostgreSQL spent on it for the intake path's six inserts a message. A model whose
    ``save`` is its own or that has pre_save or post_save receivers, a child model of
    multi-table inheritance, or an instance with its primary key set, is saved by
    ``save(force_insert=True)`` instead, so nothing is skipped. Returns the instance."""
    model = type(instance)
    meta = model._meta
    if (
        model.save is not Model.save
        or meta.parents  # multi-table inheritance: rows in more than one table
        or instance.pk is not None  # a primary key of the caller's choosing
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
    ):
        instance.save(force_insert=True)
        return instance
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    placeholders, params = [], []
    for field in fields:
        value = field.pre_save(instance, True)
        if isinstance(value, DatabaseDefault):
            placeholders.append("DEFAULT")
            continue
        if hasattr(value, "resolve_expression"):
            raise ValueError(f"{meta.label}.{field.name}: insert() takes values, not expressions")
        placeholders.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    returning = meta.db_returning_fields
    shape = (model, tuple(placeholders))
    statement = _inserts.get(shape)
    if statement is None:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(placeholders)}) "
            f"RETURNING {', '.join(quote(f.column) for f in returning)}"
        )
        # Named after its text: threads that make it at once make the same.
        digest = hashlib.sha256(sql.encode()).hexdigest()[:12]
        statement = _inserts[shape] = (f"insert_{meta.db_table[:40]}_{digest}", sql)
    name, sql = statement
    with connection.cursor() as cursor:
        cursor.execute(prepared(name, sql), params)
        row = cursor.fetchone()
    for field, value in zip(returning, row, strict=True):
        if hasattr(field, "from_db_value"):
            value = field.from_db_value(value, None, connection)
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
