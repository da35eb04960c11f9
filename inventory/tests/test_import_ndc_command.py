"""`manage.py import_ndc DIR`, through call_command and as an outside caller runs it."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from inventory.models import Package, Product
from inventory.tests.shared_data import finished_fixture, joined, ndc_folder


def finished_folder(tmp_path):
    products, packages = finished_fixture()
    return ndc_folder(tmp_path, joined(products), joined(packages))


@pytest.mark.django_db
def test_command_prints_progress_the_bad_rows_and_the_report(tmp_path):
    out = io.StringIO()
    call_command("import_ndc", str(finished_folder(tmp_path)), stdout=out)

    text = out.getvalue()
    assert "product.txt: 3 rows read, 2 products" in text
    assert "Writing 3 packages" in text
    assert "3 rows had problems:" in text
    assert "  product.txt:3: DEASCHEDULE 'DEA' is not a DEA schedule" in text
    assert "  package.txt:3: package 0002-1200-30: its product 0002-1200" in text
    assert "  package.txt:4: package 0002-1200-50" in text
    assert "Products: 2 created, 0 updated, 0 unchanged. Packages: 1 created" in text
    assert (Product.objects.count(), Package.objects.count()) == (2, 1)


@pytest.mark.django_db
def test_command_lists_a_limited_number_of_problems(tmp_path):
    out = io.StringIO()
    call_command("import_ndc", str(finished_folder(tmp_path)), "--max-problems", "1", stdout=out)
    text = out.getvalue()
    assert "product.txt:3:" in text
    assert "package.txt:3:" not in text
    assert "... and 2 more (use --max-problems 0 to list them all)" in text


@pytest.mark.django_db
def test_command_refuses_a_missing_folder_or_file(tmp_path):
    with pytest.raises(CommandError, match="Nothing was imported: .*nowhere is not a folder"):
        call_command("import_ndc", str(tmp_path / "nowhere"), stdout=io.StringIO())
    products, _packages = finished_fixture()
    (tmp_path / "product.txt").write_bytes(joined(products))
    with pytest.raises(CommandError, match="package.txt does not exist"):
        call_command("import_ndc", str(tmp_path), stdout=io.StringIO())
    assert Product.objects.count() == 0


def run_manage(*args: str) -> subprocess.CompletedProcess:
    # The subprocess is another connection: it must use the test database, and sees
    # only committed rows (hence transaction=True below).
    env = {**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"]}
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_outside_caller_imports_and_gets_exit_status_0_despite_bad_rows(tmp_path):
    result = run_manage("import_ndc", str(finished_folder(tmp_path)))

    assert result.returncode == 0, result.stderr
    assert "product.txt:3: DEASCHEDULE 'DEA'" in result.stdout
    assert "package.txt:4: package 0002-1200-50" in result.stdout
    assert sorted(Product.objects.values_list("product_ndc", flat=True)) == [
        "0002-0800",
        "0002-1407",
    ]
    assert list(Package.objects.values_list("package_ndc", flat=True)) == ["0002-0800-01"]


@pytest.mark.django_db(transaction=True)
def test_outside_caller_gets_a_clear_error_and_non_zero_status_for_a_missing_folder(tmp_path):
    result = run_manage("import_ndc", str(tmp_path / "nowhere"))

    assert result.returncode == 1
    assert f"Nothing was imported: {tmp_path / 'nowhere'} is not a folder." in result.stderr
    assert Product.objects.count() == 0
