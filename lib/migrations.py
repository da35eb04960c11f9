"""Migration operations any app's migrations may use (model-free, so every app may import it).

``RunSQLFile`` installs a database function from its ``.sql`` file, in the manner of
NetBox's ``utilities/migration.py``: each database function that stays in the database
(the list is in ``lib/tests/test_single_definitions.py``) is one file beside its app,
``<app>/database/<function name>.sql``, written ``CREATE OR REPLACE FUNCTION``. A change
to a function is a change to its file plus a new migration that installs the file again;
a migration that has landed is never edited (README, "Contributor notes").
"""

from pathlib import Path

from django.db import migrations, router

PROJECT_DIR = Path(__file__).resolve().parent.parent


class RunSQLFile(migrations.RunSQL):
    """Run the SQL of one file of the project (``path`` from the project's folder, e.g.
    ``inventory/database/inventory_stock_movement_append_only.sql``), read when the
    migration runs. ``reverse_sql`` as for RunSQL (None: irreversible; ``RunSQL.noop``:
    nothing to undo, e.g. when the previous migration installed the same text)."""

    def __init__(self, path: str, reverse_sql=None, *, hints=None, elidable: bool = False):
        self.path = path
        super().__init__(sql="", reverse_sql=reverse_sql, hints=hints, elidable=elidable)

    def read(self) -> str:
        return (PROJECT_DIR / self.path).read_text(encoding="utf-8")

    def deconstruct(self):
        kwargs = {"path": self.path}
        if self.reverse_sql is not None:
            kwargs["reverse_sql"] = self.reverse_sql
        if self.hints:
            kwargs["hints"] = self.hints
        return (self.__class__.__qualname__, [], kwargs)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if router.allow_migrate(schema_editor.connection.alias, app_label, **self.hints):
            self._run_sql(schema_editor, self.read())

    def describe(self) -> str:
        return f"Run the SQL of {self.path}"
