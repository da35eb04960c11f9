"""The drug checks (DUR) of a fill: ``run_drug_checks`` reads what the pure engine
(``pharmacy.dur``) needs (the patient's allergies, other current medications, the
interaction reference) and stores each alert for the pharmacist at PV1.

Intake runs them on a new prescription, a refill and a resolved intake; the workflow runs
them again when a fill goes back from intake to PV1. It sits below both, so neither has
to import the other for it.
"""

from datetime import date
from functools import cache

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from inventory.models import Product
from orders.models import DurAlert, Fill, Prescription
from pharmacy import dur
from pharmacy.drug_checks import (
    allergy_profiles_for_patient,
    cached_drug_profile,
    load_interaction_index,
)

__all__ = ["run_drug_checks"]


@cache
def _medication_rows():
    """Prescriptions of a catalogue drug as the drug checks read them: the product as
    ``cached_drug_profile`` sees it, the days supply and when it was last filled. Built
    once per process and narrowed per patient (each filter is a copy): resolving its
    subquery and joins on every prescription cost more than running it."""
    latest_fill = Fill.objects.filter(prescription=OuterRef("pk")).order_by("-created_at")
    return (
        Prescription.objects.filter(product__isnull=False)
        .annotate(last_fill_at=Subquery(latest_fill.values("created_at")[:1]))
        .values_list(
            "product_id",
            "product__product_ndc",
            "product__proprietary_name",
            "product__proprietary_name_suffix",
            "product__nonproprietary_name",
            "product__dea_schedule",
            "days_supply",
            "last_fill_at",
        )
    )


def _current_medications(prescription: Prescription) -> list[dur.CurrentMedication]:
    """The patient's other active prescriptions of a catalogue drug, with their latest
    fill, in one query."""
    return [
        dur.CurrentMedication(
            profile=cached_drug_profile(
                Product(
                    pk=product_id,
                    product_ndc=product_ndc,
                    proprietary_name=brand,
                    proprietary_name_suffix=suffix,
                    nonproprietary_name=generic,
                    dea_schedule=schedule,
                )
            ),
            last_fill_date=timezone.localdate(last_fill_at) if last_fill_at else None,
            days_supply=days_supply,
        )
        for (
            product_id,
            product_ndc,
            brand,
            suffix,
            generic,
            schedule,
            days_supply,
            last_fill_at,
        ) in _medication_rows().current_medications_besides(prescription)
    ]


def run_drug_checks(
    prescription: Prescription,
    fill: Fill,
    *,
    today: date,
    last_fill: Fill | None = None,
    patient_is_new: bool = False,
) -> list[DurAlert]:
    """Run every DUR check for this fill and store each alert for the pharmacist at PV1.

    Needs the patient and the product matched. ``patient_is_new``: the patient record was
    created by this intake, in this transaction, so it has no allergy recorded and no
    other prescription, and neither is read. The interaction reference data is read from
    the in-process cache; an empty reference is itself a ``no_data`` alert.
    """
    patient = prescription.patient
    if patient_is_new:
        # What allergy_profiles_for_patient and _current_medications answer for it.
        allergies = () if patient.no_known_allergies else None
        current_medications = []
    else:
        allergies = allergy_profiles_for_patient(patient)
        current_medications = _current_medications(prescription)
    alerts = dur.check_drug(
        cached_drug_profile(prescription.product),
        allergies=allergies,
        current_medications=current_medications,
        interactions=load_interaction_index(),
        quantity=fill.quantity,
        days_supply=fill.days_supply or prescription.days_supply or 30,
        today=today,
        last_fill=dur.LastFill(
            filled_on=timezone.localdate(last_fill.created_at),
            days_supply=last_fill.days_supply or 30,
        )
        if last_fill
        else None,
    )
    return DurAlert.objects.bulk_create(
        DurAlert(
            prescription=prescription,
            fill=fill,
            type=alert.type,
            severity=alert.severity,
            message=alert.message,
            detail=alert.detail,
        )
        for alert in alerts
    )
