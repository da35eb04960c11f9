"""Dependencies point one way (DESIGN.md section 3; STYLE.md rule 10).

``lib`` <- ``outbox`` <- ``inventory`` <- ``pharmacy`` <- ``orders`` <- ``shipping`` <-
``support``: a package imports only from those to its left, at any level (inside functions
too). The manager dashboards (``pharmacy/dashboard.py``, or a ``pharmacy/dashboard/``
package) are the one part that may read every app, and only the root URLconf imports them.

Migrations are checked too, both their imports and their ``dependencies``: a migration
that depends on an app to its right means a model points there, even by a string such as
``"orders.Fill"``. What Django generates for the user model
(``swappable_dependency(settings.AUTH_USER_MODEL)``) is not an app label and passes.
"""

import ast
from dataclasses import dataclass

import pytest
from django.conf import settings

from lib.tests.modules import application_modules, project_packages, relative_path

LAYERS = ("lib", "outbox", "inventory", "pharmacy", "orders", "shipping", "support")
READS_EVERY_APP = ("pharmacy/dashboard.py", "pharmacy/dashboard/")
DASHBOARD = "pharmacy.dashboard"
IMPORTS_THE_DASHBOARD = {"pharmacy/urls.py"}


@dataclass(frozen=True)
class Dependency:
    line: int
    target: str  # a dotted module, or an app label for a migration dependency
    how: str = "import"


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imported_by_call(node: ast.Call) -> str | None:
    """The module of ``import_module("x")``, ``importlib.import_module("x")`` or
    ``__import__("x")`` with a literal name."""
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if name in ("import_module", "__import__") and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _migration_dependencies(node: ast.Assign) -> list[Dependency]:
    if not any(getattr(target, "id", None) == "dependencies" for target in node.targets):
        return []
    if not isinstance(node.value, ast.List | ast.Tuple):
        return []
    return [
        Dependency(item.lineno, item.elts[0].value, "migration dependency")
        for item in node.value.elts
        if isinstance(item, ast.Tuple)
        and item.elts
        and isinstance(item.elts[0], ast.Constant)
        and isinstance(item.elts[0].value, str)
    ]


def dependencies_in(source: str, *, package: str = "") -> list[Dependency]:
    """Every module this source imports (``from a import b`` counts as ``a.b``), at any
    level, and the app labels of a migration's ``dependencies``. ``package`` resolves
    relative imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Dependency(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            found += [Dependency(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and (module := _imported_by_call(node)):
            found.append(Dependency(node.lineno, module))
        elif isinstance(node, ast.Assign):
            found += _migration_dependencies(node)
    return found


def forbidden(path: str, dependency: Dependency) -> str:
    """Why ``path`` may not have ``dependency``, or "" when it may."""
    app, target = path.split("/")[0], dependency.target
    if target == DASHBOARD or target.startswith(f"{DASHBOARD}."):
        if path not in IMPORTS_THE_DASHBOARD and not path.startswith(READS_EVERY_APP):
            return "only the root URLconf imports the dashboards"
        return ""
    target_app = target.split(".")[0]
    if target_app not in LAYERS or path.startswith(READS_EVERY_APP):
        return ""
    allowed = LAYERS[: LAYERS.index(app) + 1]
    if target_app in allowed:
        return ""
    below = ", ".join(layer for layer in allowed if layer != app) or "no app"
    return f"{app} may import {below}"


def _package_of(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1])


def test_every_package_has_its_place_in_the_order():
    assert set(project_packages()) <= set(LAYERS)
    installed = [package for package in project_packages() if package != "lib"]
    assert installed == sorted(installed, key=LAYERS.index), (
        "INSTALLED_APPS lists our apps in dependency order",
        settings.INSTALLED_APPS,
    )


def test_imports_point_down_the_dependency_order():
    violations = []
    for module in application_modules(with_migrations=True):
        path = relative_path(module)
        source = module.read_text(encoding="utf-8")
        for dependency in dependencies_in(source, package=_package_of(path)):
            if reason := forbidden(path, dependency):
                violations.append(
                    f"{path}:{dependency.line}: {dependency.how} of {dependency.target} ({reason})"
                )

    assert not violations, (
        "Imports against the dependency order of DESIGN.md section 3 (move what both need "
        "to lib/, or to the lower app):\n" + "\n".join(violations)
    )


@pytest.mark.parametrize(
    ("path", "source", "found"),
    [
        ("inventory/api/views.py", "from pharmacy.api.errors import APIError", 1),
        ("inventory/services/stock.py", "def f():\n    import orders.models\n", 1),
        ("inventory/services/stock.py", "def f():\n    from shipping import models\n", 1),
        ("lib/queueing.py", "from outbox.models import SideEffect", 1),
        ("outbox/tasks.py", "from inventory.models import Package", 1),
        ("pharmacy/views.py", "import orders.services.workflow as workflow", 1),
        ("orders/views/work.py", "from shipping.services.shipments import pack_shipment", 1),
        ("shipping/views.py", "from support.models import Case", 1),
        ("pharmacy/admin.py", "importlib.import_module('orders.demo')", 1),
        ("inventory/migrations/0009_x.py", "dependencies = [('orders', '0001_initial')]", 1),
        ("orders/views.py", "from pharmacy import dashboard", 1),
        ("orders/views.py", "from pharmacy.dashboard import home", 1),
        # Allowed:
        ("lib/api_errors.py", "from rest_framework import exceptions", 0),
        ("outbox/models.py", "from lib.queueing import send_task_fast", 0),
        ("inventory/api/views.py", "from lib.api_errors import APIError", 0),
        ("inventory/services/stock.py", "from .lots import LotTrace", 0),
        ("pharmacy/services/patients.py", "from inventory.models import Ingredient", 0),
        ("orders/services/intake.py", "from pharmacy.services import create_patient", 0),
        ("shipping/services/shipments.py", "from orders.models import Fill", 0),
        ("pharmacy/dashboard.py", "from shipping.models import Shipment", 0),
        ("pharmacy/dashboard/queues.py", "from orders.views import FILL_QUEUES", 0),
        ("pharmacy/urls.py", "from pharmacy import dashboard, views", 0),
        ("inventory/migrations/0002_stock.py", "dependencies = [('inventory', '0001_initial'), "
         "migrations.swappable_dependency(settings.AUTH_USER_MODEL)]", 0),
        ("pharmacy/migrations/0002_x.py", "dependencies = [('inventory', '0001_initial')]", 0),
        ("pharmacy/management/commands/seed_demo.py", "importlib.import_module(name)", 0),
    ],
)  # fmt: skip
def test_the_check_finds_imports_against_the_order(path, source, found):
    reasons = [
        reason
        for dependency in dependencies_in(source, package=_package_of(path))
        if (reason := forbidden(path, dependency))
    ]

    assert len(reasons) == found, reasons


def test_relative_imports_resolve_inside_their_package():
    (dependency,) = dependencies_in("from ..models import Fill", package="orders.services")

    assert dependency.target == "orders.models.Fill"
