"""What the PV1 page shows a pharmacist beyond the data entry: the drug-check alerts in
order of severity, in words, and for a controlled substance the prescriber's DEA number,
the checks of the schedule and the state prescription-monitoring (PDMP) checks of the
fill."""

from dataclasses import dataclass

from orders.models import DurAlert, PdmpCheck, Prescription
from orders.services.intake import MAX_REFILLS
from pharmacy.dur import SEVERITY_RANK, Severity
from pharmacy.identifiers import is_valid_dea_number

# Severities a pharmacist must stop at: shown in red.
SERIOUS = frozenset({Severity.CONTRAINDICATED, Severity.MAJOR})


def worst_severity(severities) -> str:
    """The most serious of the severities (``pharmacy.dur.SEVERITY_RANK``), "" for none."""
    ranked = [s for s in severities if s in SEVERITY_RANK]
    return max(ranked, key=SEVERITY_RANK.get) if ranked else ""


def most_serious_first(alerts: list[DurAlert]) -> list[DurAlert]:
    return sorted(alerts, key=lambda alert: (-SEVERITY_RANK.get(alert.severity, 0), alert.pk))


@dataclass(frozen=True)
class ControlledCheck:
    """One line of the controlled-substance panel: what was checked, what was found, and
    whether it is in order."""

    label: str
    finding: str
    is_ok: bool


def controlled_checks(prescription: Prescription, schedule: str) -> list[ControlledCheck]:
    """The checks a pharmacist makes of a controlled-substance prescription at PV1: the
    prescriber's DEA number (present, check digit), the registration's schedules, and the
    refills the schedule allows (21 CFR 1306.12, 1306.22)."""
    prescriber = prescription.prescriber
    number = prescriber.dea_number if prescriber else ""
    schedule_words = f"Schedule {schedule[1:]}"
    checks = [
        ControlledCheck(
            "Prescriber's DEA number",
            (
                f"{number}, check digit correct"
                if is_valid_dea_number(number)
                else f"{number}: the check digit is wrong"
            )
            if number
            else "None on file: a controlled substance needs the prescriber's DEA number",
            bool(number) and is_valid_dea_number(number),
        )
    ]
    registered = list(prescriber.dea_schedules) if prescriber else []
    checks.append(
        ControlledCheck(
            f"Registration covers {schedule_words}",
            (
                f"Yes (registered for {', '.join(registered)})"
                if schedule in registered
                else f"No: registered for {', '.join(registered)} only"
            )
            if registered
            else "The registration's schedules are not on file: verify them with the DEA",
            schedule in registered,
        )
    )
    allowed = MAX_REFILLS.get(schedule, 0)
    refills = prescription.refills_authorized
    checks.append(
        ControlledCheck(
            "Refills",
            f"{refills} authorised; {schedule_words} allows "
            + (f"at most {allowed}" if allowed else "none"),
            refills <= allowed,
        )
    )
    checks.append(
        ControlledCheck(
            "Valid until",
            f"{prescription.expires_on:%Y-%m-%d} (written {prescription.written_date:%Y-%m-%d})",
            True,
        )
    )
    return checks


def pdmp_checks(fill) -> list[PdmpCheck]:
    """The fill's PDMP checks, newest first (the newest is the one PV1 goes by)."""
    return list(fill.pdmp_checks.select_related("checked_by").order_by("-checked_at", "-pk"))
