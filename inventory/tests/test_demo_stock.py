"""The stock part of the demo pharmacy: loaded through the services, idempotent, and
showing what a demonstration needs."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import demo
from inventory.models import (
    CycleCount,
    Package,
    PurchaseOrder,
    ReceivingDiscrepancy,
    StockLot,
    StockMovement,
    Supplier,
)
from inventory.tests.test_stock_allocation import ledger_matches_stock
from pharmacy.demo import seed_demo_pharmacy

pytestmark = pytest.mark.django_db


def test_nothing_is_loaded_before_the_catalogue_exists():
    assert demo.seed_demo(stdout=io.StringIO()) == {}
    assert Supplier.objects.count() == 0


def test_stock_for_every_demo_package_and_again_nothing_new():
    seed_demo_pharmacy(stdout=io.StringIO())
    out = io.StringIO()

    created = demo.seed_demo(stdout=out)

    packages = demo.demo_packages()
    assert created["suppliers"] == 3
    assert created["purchase orders"] == 4
    assert created["cycle counts"] == 1
    assert not [p.package_ndc for p in packages if not StockLot.objects.filter(package=p).exists()]
    assert dict(PurchaseOrder.objects.values_list("number", "status")) == {
        "DEMO-1001": "received",
        "DEMO-1002": "partially_received",
        "DEMO-1003": "open",
        "DEMO-1004": "closed",
    }
    assert ReceivingDiscrepancy.objects.filter(kind="short_at_close").count() == 1
    soon = timezone.localdate() + timedelta(days=60)
    assert StockLot.objects.filter(expiry__lte=soon).count() >= 5
    assert StockLot.objects.filter(status="quarantined").count() == 1
    count = CycleCount.objects.get()
    assert count.status == "submitted"
    assert [line.variance for line in count.lines.all() if line.variance] == [-2]
    assert StockLot.objects.filter(location="VAULT").exists()
    assert "Demo stock:" in out.getvalue()
    assert ledger_matches_stock()

    movements = StockMovement.objects.count()
    again = demo.seed_demo(stdout=io.StringIO())

    assert set(again.values()) == {0}
    assert StockMovement.objects.count() == movements
    assert Package.objects.count() >= len(packages)
