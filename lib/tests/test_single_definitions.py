"""A rule lives in one place (STYLE.md rule 11, issue 11).

Which lots may be dispensed, a product's available units, the reorder suggestion, what a
role may do: each is one QuerySet method, model method or database function, never a
Python rule restated in an SQL string. So no module outside migrations, tests and
benchmarks sends SQL of its own, except the few listed in ``ALLOWED_RAW_SQL`` with the
reason; and the database holds exactly the functions of ``ALLOWED_DATABASE_FUNCTIONS``,
each one ``<app>/database/<name>.sql`` file installed by a migration
(``lib.migrations.RunSQLFile``).
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Folders whose code may send SQL: history (migrations), tests and benchmarks (which
# measure the product beside raw PostgreSQL), and what is not the project's code.
SKIPPED_FOLDERS = {".git", ".venv", "var", "migrations", "tests", "bench", "test-artifacts"}

# (file, a fragment the finding's source must contain or None for every finding of the
# file, why it stays). Keep it short: a new entry needs a reason a reviewer accepts.
ALLOWED_RAW_SQL = [
    ("pharmacy/health.py", "SELECT 1", "the /health/ probe of the database: no rule"),
    (
        "pharmacy/devservices.py",
        None,
        "starts the embedded development PostgreSQL (psql checks for its database): "
        "infrastructure, no rule",
    ),
    (
        "pharmacy/drug_checks.py",
        "pg_advisory_xact_lock",
        "an advisory lock that makes two interaction imports wait for each other: no rule",
    ),
    (
        "pharmacy/health.py",
        "pipeline.execute()",
        "a Redis pipeline (the broker ping and the workers' heartbeats), not SQL",
    ),
    (
        "inventory/services/suppliers.py",
        "pg_advisory_xact_lock",
        "an advisory lock that makes two managers adding the same name in another case "
        "wait for each other: no rule",
    ),
    (
        "inventory/services/catalogue.py",
        None,
        "the FDA NDC Directory import: COPY into temporary tables, merged with INSERT ... "
        "ON CONFLICT; the import's only definition (no ORM twin), for 100,000+ rows",
    ),
    (
        "lib/migrations.py",
        None,
        "RunSQLFile, the operation that installs each allowed database function from its .sql file",
    ),
]

# Every function the database may hold (besides those of extensions), with its file.
ALLOWED_DATABASE_FUNCTIONS = {
    "inventory_stock_movement_append_only": (
        "inventory/database/inventory_stock_movement_append_only.sql",
        "the stock ledger refuses UPDATE and DELETE (trigger of inventory migration 0003)",
    ),
    "pharmacy_audit_event_append_only": (
        "pharmacy/database/pharmacy_audit_event_append_only.sql",
        "the audit trail refuses UPDATE and DELETE (trigger of pharmacy migration 0002)",
    ),
}

# Calls that send SQL written by hand (a cursor merely opened sends nothing).
SQL_CALLS = {"execute", "executemany", "callproc", "copy_expert", "copy_from", "raw", "extra"}
SQL_CLASSES = {"RawSQL", "RunSQL"}
# SQL in a string: upper-case keywords, as SQL is written here (prose rarely shouts).
SQL_TEXT = re.compile(
    r"\bSELECT\b.*?\bFROM\b|\bUPDATE\s+\S+\s+SET\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|TRIGGER|TABLE)\b|\bPREPARE\s+\w+\s+AS\b",
    re.DOTALL,
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    source: str

    def __str__(self):
        lines = [line.strip() for line in self.source.splitlines()]
        first = next((line for line in lines if line.strip("f\"'") and line), "")
        return f"{self.path}:{self.line}: {first[:90]}"


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with ``{}`` for each value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def raw_sql_in(source: str, path: str = "<source>") -> list[Finding]:
    """Where this Python source sends SQL of its own: calls of a cursor's execute (and
    the like), ``.raw()``, ``.extra()``, RawSQL, RunSQL, and SQL in string literals
    (docstrings aside)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    findings = []
    for node in ast.walk(tree):
        found = False
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.attr
                if isinstance(function, ast.Attribute)
                else getattr(function, "id", None)
            )
            found = (isinstance(function, ast.Attribute) and name in SQL_CALLS) or (
                name in SQL_CLASSES
            )
        elif isinstance(node, ast.ClassDef):
            found = any(
                getattr(base, "attr", getattr(base, "id", None)) in SQL_CLASSES
                for base in node.bases
            )
        elif id(node) not in docstrings and id(node) not in in_fstrings:
            text = _string_text(node)
            found = text is not None and SQL_TEXT.search(text) is not None
        if found:
            segment = ast.get_source_segment(source, node) or ""
            findings.append(Finding(path, node.lineno, segment))
    return sorted(set(findings), key=lambda finding: (finding.path, finding.line))


def _allowed(finding: Finding) -> bool:
    return any(
        finding.path == path and (fragment is None or fragment in finding.source)
        for path, fragment, _ in ALLOWED_RAW_SQL
    )


def _project_modules() -> list[Path]:
    return sorted(
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not SKIPPED_FOLDERS.intersection(path.relative_to(PROJECT_DIR).parts)
    )


def test_no_module_outside_migrations_sends_sql_of_its_own():
    findings = [
        finding
        for path in _project_modules()
        for finding in raw_sql_in(
            path.read_text(encoding="utf-8"), path.relative_to(PROJECT_DIR).as_posix()
        )
        if not _allowed(finding)
    ]

    assert not findings, (
        "SQL written by hand outside migrations: state the rule once in the ORM (a "
        "QuerySet or model method), or, if it must stay, add it to ALLOWED_RAW_SQL with "
        "the reason:\n" + "\n".join(map(str, findings))
    )


def test_every_allowed_exception_still_exists():
    # An entry whose code is gone would silently allow the next one written there.
    for path, fragment, _ in ALLOWED_RAW_SQL:
        findings = raw_sql_in((PROJECT_DIR / path).read_text(encoding="utf-8"), path)
        assert any(_allowed(f) and f.path == path for f in findings), (path, fragment)


@pytest.mark.parametrize(
    "source",
    [
        'cursor.execute("UPDATE inventory_stocklot SET quantity_on_hand = 0")',
        "connection.cursor().execute(sql, params)",
        'Fill.objects.raw("SELECT * FROM orders_fill")',
        'Fill.objects.extra(where=["id > 1"])',
        'Fill.objects.annotate(n=RawSQL("count(*)", []))',
        'SQL = f"SELECT {columns} FROM {table} WHERE id = %s"',
        'SQL = """\nSELECT lot.id\nFROM inventory_stocklot lot\n"""',
        'x = "INSERT INTO inventory_stockmovement (lot_id) VALUES (1)"',
        'x = "DELETE FROM pharmacy_auditevent"',
        'x = "CREATE OR REPLACE FUNCTION f() RETURNS trigger"',
        "operations = [migrations.RunSQL(FORWARD, BACKWARD)]",
        "class RunSQLFile(migrations.RunSQL):\n    pass",
    ],
)
def test_the_scan_finds_sql_written_by_hand(source):
    assert [finding.line for finding in raw_sql_in(source)] != []


@pytest.mark.parametrize(
    "source",
    [
        '"""Locks the lot (SELECT ... FOR UPDATE) and writes UPDATE x SET y."""',
        "def f():\n    '''Counts with SELECT sum(units) FROM lots.'''",
        "# cursor.execute('SELECT * FROM t')",
        "StockLot.objects.select_for_update().filter(pk=1).update(quantity_on_hand=F('q') - 1)",
        'message = "Select the lot from the list."',
        "with connection.cursor() as cursor:\n    pass",
    ],
)
def test_the_scan_leaves_the_orm_prose_and_comments_alone(source):
    assert raw_sql_in(source) == []


def test_the_database_holds_only_the_allowed_functions(db):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT function.proname FROM pg_proc function
            JOIN pg_namespace namespace ON namespace.oid = function.pronamespace
            WHERE namespace.nspname = current_schema()
              AND NOT EXISTS (
                  SELECT 1 FROM pg_depend dependency
                  WHERE dependency.objid = function.oid AND dependency.deptype = 'e'
              )
            """
        )
        functions = {name for (name,) in cursor.fetchall()}

    assert functions == set(ALLOWED_DATABASE_FUNCTIONS)


def test_each_database_function_is_one_sql_file_beside_its_app():
    files = {
        path.relative_to(PROJECT_DIR).as_posix() for path in PROJECT_DIR.glob("*/database/*.sql")
    }

    assert files == {path for path, _ in ALLOWED_DATABASE_FUNCTIONS.values()}
    for name, (path, _) in ALLOWED_DATABASE_FUNCTIONS.items():
        text = (PROJECT_DIR / path).read_text(encoding="utf-8")
        defined = re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", text)
        assert defined == [name], path
        assert Path(path).stem == name
