"""The demo prescribers: invented people with valid NPI and DEA check digits, registered
for all controlled schedules, for CIII-CV only (mid-levels), or not at all."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoPrescriber:
    first_name: str
    last_name: str
    credentials: str
    npi: str
    dea_number: str
    dea_schedules: tuple[str, ...]
    state_license_number: str
    license_state: str
    practice_name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    fax: str


ALL_SCHEDULES = ("CII", "CIII", "CIV", "CV")

# DEA numbers: the first letter is the registrant type (B practitioner, F and A older
# practitioner series, M mid-level), the second the initial of the last name.
PRESCRIBERS = (
    DemoPrescriber(
        "Sarah", "Chen", "MD", "1284937509", "BC4839203", ALL_SCHEDULES, "35.094821", "OH",
        "Olentangy Internal Medicine", "3545 Olentangy River Rd", "Suite 210",
        "Columbus", "OH", "43214", "(614) 555-0142", "(614) 555-0143",
    ),
    DemoPrescriber(
        "Michael", "O'Brien", "DO", "1548702368", "FO2176546", ALL_SCHEDULES, "34.012876", "OH",
        "Dublin Family Practice", "6805 Perimeter Dr", "",
        "Dublin", "OH", "43016", "(614) 555-0157", "(614) 555-0158",
    ),
    DemoPrescriber(
        "Priya", "Raman", "MD", "1673029843", "BR5903124", ALL_SCHEDULES, "35.107733", "OH",
        "Lakeshore Endocrinology & Diabetes", "2074 Abington Rd", "Floor 3",
        "Cleveland", "OH", "44106", "(216) 555-0119", "(216) 555-0120",
    ),
    DemoPrescriber(
        "James", "Whitfield", "MD", "1109384721", "AW3481277", ALL_SCHEDULES, "35.066310", "OH",
        "Queen City Orthopaedics & Pain", "222 Piedmont Ave", "Suite 4100",
        "Cincinnati", "OH", "45219", "(513) 555-0164", "(513) 555-0165",
    ),
    DemoPrescriber(
        "Angela", "Moreno", "APRN-CNP", "1982765301", "MM7620417", ("CIII", "CIV", "CV"),
        "RN.512094", "OH", "Maumee Valley Community Health", "1120 Collingwood Blvd", "",
        "Toledo", "OH", "43604", "(419) 555-0131", "(419) 555-0132",
    ),
    DemoPrescriber(
        "David", "Goldberg", "MD", "1456190275", "BG1058735", ALL_SCHEDULES, "MD451873", "PA",
        "Three Rivers Behavioral Health", "4815 Liberty Ave", "Suite 500",
        "Pittsburgh", "PA", "15224", "(412) 555-0176", "(412) 555-0177",
    ),
    DemoPrescriber(
        "Linda", "Park", "PA-C", "1730582610", "MP6392081", ("CIII", "CIV", "CV"),
        "PA3318", "KY", "Bluegrass Urgent Care", "3420 Bardstown Rd", "",
        "Louisville", "KY", "40218", "(502) 555-0188", "(502) 555-0189",
    ),
    # No DEA registration: may prescribe only non-controlled drugs.
    DemoPrescriber(
        "Robert", "Nguyen", "MD", "1204857399", "", (), "01072245A", "IN",
        "Hoosier Heart & Vascular", "8333 Naab Rd", "Suite 220",
        "Indianapolis", "IN", "46260", "(317) 555-0123", "(317) 555-0124",
    ),
)  # fmt: skip
