"""A module holds one subject and stays readable in one sitting (STYLE.md rule 14, issue 11).

No application module is longer than ``MAX_LINES``; a longer one becomes a package of the
same name, one module per section. Migrations (history), tests and benchmarks aside.
"""

from lib.tests.modules import PROJECT_DIR, application_modules, relative_path

MAX_LINES = 850


def _line_count(path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_application_module_is_longer_than_850_lines():
    too_long = [
        f"{relative_path(path)}: {lines} lines"
        for path in application_modules()
        if (lines := _line_count(path)) > MAX_LINES
    ]

    assert not too_long, (
        f"Modules longer than {MAX_LINES} lines: split each into a package of the same name, "
        "one module per section banner (the package's __init__ re-exports its public "
        "names):\n" + "\n".join(too_long)
    )


def test_the_check_reads_application_code_only():
    checked = {relative_path(path) for path in application_modules()}

    assert {
        "lib/queueing.py",
        "outbox/models.py",
        "inventory/models/stock.py",
        "pharmacy/services/patients.py",
        "orders/api/views.py",
        "shipping/models.py",
    } <= checked
    assert (PROJECT_DIR / "pharmacy/tests/test_seed_demo.py").exists()
    assert (PROJECT_DIR / "pharmacy/migrations/0001_initial.py").exists()
    assert not [path for path in checked if {"tests", "migrations"} & set(path.split("/"))]
