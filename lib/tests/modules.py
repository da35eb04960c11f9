"""The project's application modules, for the tests that check every one of them."""

from pathlib import Path

from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Folders inside a package that hold no application code: history, tests, and what Python
# writes.
NOT_APPLICATION_CODE = {"migrations", "tests", "bench", "__pycache__"}


def project_packages() -> list[str]:
    """``lib`` and every installed app that lives in this project, in settings order."""
    apps = dict.fromkeys(
        name.split(".")[0]
        for name in settings.INSTALLED_APPS
        if (PROJECT_DIR / name.split(".")[0] / "__init__.py").exists()
    )
    return ["lib", *apps]


def application_modules(*, with_migrations: bool = False) -> list[Path]:
    """Every ``.py`` file of ``project_packages``, migrations only when asked."""
    skipped = NOT_APPLICATION_CODE - ({"migrations"} if with_migrations else set())
    return sorted(
        path
        for package in project_packages()
        for path in (PROJECT_DIR / package).rglob("*.py")
        if not skipped.intersection(path.relative_to(PROJECT_DIR).parts)
    )


def relative_path(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()
