"""The demo patients: invented people with their addresses and allergies (by ingredient,
by class, non-drug), some with "no known allergies" recorded, some never asked."""

import datetime
from dataclasses import dataclass

from pharmacy.models import Allergy, Patient


@dataclass(frozen=True)
class DemoAddress:
    line1: str
    city: str
    state: str
    postal_code: str
    label: str = "Home"
    line2: str = ""


@dataclass(frozen=True)
class DemoAllergy:
    """An allergy as told by the patient, with what the drug checks match it against:
    an ingredient (FDA substance name, normalised), a pharmacologic class ("Name [EPC]"),
    or neither for a non-drug allergen."""

    allergen: str
    reaction: str
    severity: str
    ingredient: str = ""
    pharmacologic_class: str = ""


@dataclass(frozen=True)
class DemoPatient:
    first_name: str
    middle_name: str
    last_name: str
    date_of_birth: datetime.date
    sex: str
    phone: str
    email: str
    addresses: tuple[DemoAddress, ...]  # the first is the default shipping address
    preferred_language: str = "English"
    no_known_allergies: bool = False
    allergies: tuple[DemoAllergy, ...] = ()
    child_resistant_waiver_on: datetime.date | None = None


F, M = Patient.Sex.FEMALE, Patient.Sex.MALE
MILD, MODERATE, SEVERE, UNKNOWN = (
    Allergy.Severity.MILD,
    Allergy.Severity.MODERATE,
    Allergy.Severity.SEVERE,
    Allergy.Severity.UNKNOWN,
)
PENICILLIN_CLASS = "Penicillin-class Antibacterial [EPC]"
SULFONAMIDE_CLASS = "Sulfonamide Antibacterial [EPC]"


def _date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


# A mix a pharmacy sees: allergies by ingredient and by class, "no known allergies"
# asked and recorded, patients nobody has asked yet, Spanish speakers, second addresses.
PATIENTS = (
    DemoPatient(
        "Margaret", "Ellen", "Sullivan", _date("1948-03-14"), F, "(614) 555-0101", "",
        (DemoAddress("1427 Maple Grove Ave", "Columbus", "OH", "43214"),
         DemoAddress("88 Bristol Ct", "Dublin", "OH", "43017", label="Daughter's house")),
        allergies=(DemoAllergy("Penicillin", "Hives", MODERATE,
                               pharmacologic_class=PENICILLIN_CLASS),),
        # Arthritis in both hands: she asked for easy-open caps on everything.
        child_resistant_waiver_on=_date("2024-02-06"),
    ),
    DemoPatient(
        "Robert", "James", "Kowalczyk", _date("1956-11-02"), M, "(440) 555-0102",
        "bob.kowalczyk@example.net", (DemoAddress("5512 Ridge Rd", "Parma", "OH", "44129"),),
        allergies=(DemoAllergy("Codeine", "Nausea and vomiting", MILD, ingredient="CODEINE"),),
    ),
    DemoPatient(
        "María", "Guadalupe", "Hernández", _date("1971-07-22"), F, "(614) 555-0103",
        "maria.hernandez@example.com",
        (DemoAddress("2210 Cleveland Ave", "Columbus", "OH", "43211", line2="Apt 4B"),),
        preferred_language="Spanish", no_known_allergies=True,
    ),
    DemoPatient(
        "José", "Luis", "Ramírez", _date("1965-01-30"), M, "(216) 555-0104",
        "jl.ramirez@example.org", (DemoAddress("3907 Clark Ave", "Cleveland", "OH", "44109"),),
        preferred_language="Spanish",
        allergies=(DemoAllergy("Sulfa (Bactrim)", "Rash", MODERATE,
                               ingredient="SULFAMETHOXAZOLE"),),
    ),
    DemoPatient(
        "Linh", "Thi", "Nguyen", _date("1982-09-09"), F, "(937) 555-0105",
        "linh.nguyen@example.com",
        (DemoAddress("740 Salem Ave", "Dayton", "OH", "45406"),),
    ),
    DemoPatient(
        "William", "Harold", "Baker", _date("1944-05-18"), M, "(330) 555-0106", "",
        (DemoAddress("1631 Goodyear Blvd", "Akron", "OH", "44305"),),
        allergies=(DemoAllergy("Lisinopril", "Swelling of lips and tongue (angioedema)", SEVERE,
                               ingredient="LISINOPRIL"),),
    ),
    DemoPatient(
        "Dorothy", "Mae", "Jenkins", _date("1939-12-01"), F, "(419) 555-0107", "",
        (DemoAddress("2918 Collingwood Blvd", "Toledo", "OH", "43610"),
         DemoAddress("4150 Beneva Rd", "Sarasota", "FL", "34233", label="Winter address",
                     line2="Unit 12")),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Kevin", "Michael", "O'Connor", _date("1978-04-25"), M, "(412) 555-0108",
        "kevin.oconnor@example.com",
        (DemoAddress("318 Brookline Blvd", "Pittsburgh", "PA", "15226"),),
    ),
    DemoPatient(
        "Aisha", "", "Rahman", _date("1990-08-17"), F, "(513) 555-0109", "aisha.rahman@example.com",
        (DemoAddress("2631 Vine St", "Cincinnati", "OH", "45219", line2="Apt 3"),),
        allergies=(
            DemoAllergy("Penicillin", "Anaphylaxis", SEVERE, pharmacologic_class=PENICILLIN_CLASS),
            DemoAllergy("Latex", "Contact dermatitis", MILD),
        ),
    ),
    DemoPatient(
        "Carlos", "Alberto", "Mendoza", _date("1959-10-05"), M, "(502) 555-0110",
        "carlos.mendoza@example.net",
        (DemoAddress("1845 Bardstown Rd", "Louisville", "KY", "40205"),
         DemoAddress("4400 Produce Rd", "Louisville", "KY", "40218", label="Work",
                     line2="Receiving dock B")),
        preferred_language="Spanish", no_known_allergies=True,
    ),
    DemoPatient(
        "Patricia", "Ann", "Walsh", _date("1952-02-28"), F, "(814) 555-0111",
        "pat.walsh@example.com", (DemoAddress("1017 W 26th St", "Erie", "PA", "16508"),),
        allergies=(DemoAllergy("Atorvastatin", "Muscle aches", MILD,
                               ingredient="ATORVASTATIN"),),
    ),
    DemoPatient(
        "Thomas", "Earl", "Washington", _date("1961-06-11"), M, "(317) 555-0112",
        "t.washington@example.org",
        (DemoAddress("5240 N College Ave", "Indianapolis", "IN", "46220"),),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Susan", "Marie", "Schneider", _date("1975-03-03"), F, "(260) 555-0113",
        "susan.schneider@example.com",
        (DemoAddress("3302 Fairfield Ave", "Fort Wayne", "IN", "46807"),),
        allergies=(DemoAllergy("Sulfa drugs", "Hives", MODERATE,
                               pharmacologic_class=SULFONAMIDE_CLASS),),
    ),
    DemoPatient(
        "Ahmed", "", "Hassan", _date("1987-12-19"), M, "(313) 555-0114", "ahmed.hassan@example.com",
        (DemoAddress("6921 Schaefer Rd", "Dearborn", "MI", "48126"),),
    ),
    DemoPatient(
        "Barbara", "Jean", "Thompson", _date("1946-09-27"), F, "(859) 555-0115", "",
        (DemoAddress("455 Tates Creek Rd", "Lexington", "KY", "40502"),
         DemoAddress("1290 Man o' War Blvd", "Lexington", "KY", "40513", label="Son's house")),
        allergies=(
            DemoAllergy("Codeine", "Itching", MILD, ingredient="CODEINE"),
            DemoAllergy("Amoxicillin", "Rash", UNKNOWN, pharmacologic_class=PENICILLIN_CLASS),
        ),
    ),
    DemoPatient(
        "Daniel", "Lee", "Foster", _date("1993-05-08"), M, "(614) 555-0116",
        "dan.foster@example.com",
        (DemoAddress("181 E Northwood Ave", "Columbus", "OH", "43201", line2="Apt 2"),),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Rosa", "Elena", "Castillo", _date("1950-04-14"), F, "(440) 555-0117", "",
        (DemoAddress("2145 E 31st St", "Lorain", "OH", "44055"),),
        preferred_language="Spanish",
        allergies=(DemoAllergy("Cipro", "Tendon pain", MODERATE,
                               ingredient="CIPROFLOXACIN"),),
    ),
    DemoPatient(
        "Gerald", "Wayne", "Hoffman", _date("1941-08-30"), M, "(304) 555-0118", "",
        (DemoAddress("67 Edgington Ln", "Wheeling", "WV", "26003"),),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Emily", "Grace", "Carter", _date("2001-01-15"), F, "(740) 555-0119",
        "emily.carter@example.edu",
        (DemoAddress("35 Mill St", "Athens", "OH", "45701", line2="Apt 5"),),
    ),
    DemoPatient(
        "Raymond", "Louis", "Dubois", _date("1968-10-21"), M, "(330) 555-0120",
        "ray.dubois@example.net", (DemoAddress("4418 Market St", "Youngstown", "OH", "44512"),),
        allergies=(DemoAllergy("Aspirin", "Wheezing", SEVERE, ingredient="ASPIRIN"),),
    ),
    DemoPatient(
        "Hannah", "Rose", "Miller", _date("1985-06-06"), F, "(330) 555-0121",
        "hannah.miller@example.com",
        (DemoAddress("2733 Fulton Dr NW", "Canton", "OH", "44718"),
         DemoAddress("4000 Embassy Pkwy", "Akron", "OH", "44333", label="Work", line2="Suite 300")),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Francisco", "Javier", "Torres", _date("1979-02-09"), M, "(614) 555-0122", "",
        (DemoAddress("3350 Sullivant Ave", "Columbus", "OH", "43204"),),
        preferred_language="Spanish",
    ),
    DemoPatient(
        "Evelyn", "Louise", "Price", _date("1936-11-23"), F, "(937) 555-0123", "",
        (DemoAddress("1820 E High St", "Springfield", "OH", "45505"),),
        allergies=(
            DemoAllergy("Penicillin", "Hives", MODERATE, pharmacologic_class=PENICILLIN_CLASS),
            DemoAllergy("Sulfamethoxazole", "Rash and fever", MODERATE,
                        ingredient="SULFAMETHOXAZOLE"),
        ),
    ),
    DemoPatient(
        "Marcus", "Anthony", "Bell", _date("1972-07-04"), M, "(513) 555-0124",
        "marcus.bell@example.org", (DemoAddress("4120 Reading Rd", "Cincinnati", "OH", "45229"),),
        no_known_allergies=True,
    ),
    DemoPatient(
        "Grace", "", "Yoon", _date("1998-03-30"), F, "(734) 555-0125", "grace.yoon@example.com",
        (DemoAddress("611 Church St", "Ann Arbor", "MI", "48104", line2="Apt 7"),),
        preferred_language="Korean",
    ),
)  # fmt: skip
