"""The demo staff: one account of each role, with demo passwords printed on purpose."""

from dataclasses import dataclass

from pharmacy.models import Role


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    password: str
    first_name: str
    last_name: str
    email: str
    license_number: str = ""
    license_state: str = ""


# Demo passwords pass the validators of settings.AUTH_PASSWORD_VALIDATORS (length 10,
# not common, not numeric, not like the user's name). They are printed on purpose.
STAFF = (
    DemoStaff(
        "technician", Role.TECHNICIAN, "Amber-Vial-Counter-41",
        "Tara", "Morgan", "tara.morgan@pharmacy.example",
    ),
    DemoStaff(
        "technician2", Role.TECHNICIAN, "Label-Printer-Green-52",
        "James", "Okafor", "james.okafor@pharmacy.example",
    ),
    DemoStaff(
        "pharmacist", Role.PHARMACIST, "Verify-Mortar-Pestle-63",
        "Riya", "Patel", "riya.patel@pharmacy.example",
        license_number="03-1-28417", license_state="OH",
    ),
    DemoStaff(
        "pharmacist2", Role.PHARMACIST, "Second-Check-Amber-74",
        "Daniel", "Kowalski", "daniel.kowalski@pharmacy.example",
        license_number="03-2-10955", license_state="OH",
    ),
    DemoStaff(
        "manager", Role.MANAGER, "Queue-Dashboard-Lead-85",
        "Monica", "Greene", "monica.greene@pharmacy.example",
    ),
)  # fmt: skip
