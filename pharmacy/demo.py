"""The demo pharmacy that ``manage.py seed_demo`` loads, and the one function that writes it.

Everything here is written for this project: staff of each role with known demo
passwords, prescribers, patients, and a drug catalogue of about fifty common products.
Drug facts (names, strengths, labelers, pharmacologic classes, DEA schedules) are real.
Package NDCs are real where they are well known (Lipitor 0071-0155-23, Humalog
0002-7510-01, Suboxone, Lyrica, Depo-Testosterone ...); the others use the labeler's
real product NDC with a plausible package code. People, addresses, NPIs and DEA numbers
are invented (valid check digits; 555-01xx phone numbers; example.* e-mail domains).

The data is plain Python, one section per kind, so later issues can add sections
(stock, prescriptions, orders, shipments) beside these and a step to
``seed_demo_pharmacy``. Every row is found by its natural key (username, NPI, product
NDC, package NDC, patient name + date of birth) and created only when missing; rows that
exist are never changed, so running the seed again duplicates and changes nothing.
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from io import TextIOBase

from django.db import transaction

from inventory.ingredients import normalize_ingredient_name
from inventory.models import (
    DEASchedule,
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    Storage,
)
from inventory.ndc import ndc10_digits, ndc11_from_package_ndc
from pharmacy.models import Allergy, Patient, PatientAddress, Prescriber, Role, User
from pharmacy.services import create_staff

# =========================================================================== staff


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

# =========================================================================== catalogue


@dataclass(frozen=True)
class DemoPackage:
    ndc: str  # hyphenated 10-digit package NDC (4-4-2, 5-3-2 or 5-4-1)
    quantity: str  # billing units in the package (NCPDP): each, mL or g
    unit: str
    description: str  # as the FDA NDC Directory words it


@dataclass(frozen=True)
class DemoProduct:
    product_ndc: str
    proprietary_name: str
    nonproprietary_name: str
    dosage_form: str
    route: str
    labeler_name: str
    strengths: tuple[tuple[str, str, str], ...]  # (FDA substance name, strength, unit)
    pharmacologic_classes: tuple[str, ...]  # "Name [EPC]" as the FDA lists them
    packages: tuple[DemoPackage, ...]
    marketing_category: str = "ANDA"
    application_number: str = ""
    dea_schedule: str = DEASchedule.NONE
    storage: str = Storage.ROOM_TEMPERATURE


def bottle(ndc: str, count: int, form: str = "TABLET", container: str = "BOTTLE") -> DemoPackage:
    """A package of ``count`` tablets or capsules: "90 TABLET in 1 BOTTLE (0071-0155-23)"."""
    return DemoPackage(
        ndc, str(count), form.split(",")[0], f"{count} {form} in 1 {container} ({ndc})"
    )


# Classes shared by several products, spelt as in the FDA NDC Directory.
ACE_INHIBITOR = (
    "Angiotensin Converting Enzyme Inhibitor [EPC]",
    "Angiotensin-converting Enzyme Inhibitors [MoA]",
)
STATIN = (
    "HMG-CoA Reductase Inhibitor [EPC]",
    "Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]",
)
DIHYDROPYRIDINE = (
    "Dihydropyridine Calcium Channel Blocker [EPC]",
    "Calcium Channel Antagonists [MoA]",
)
THYROXINE = ("l-Thyroxine [EPC]", "Thyroxine [CS]")
BETA_BLOCKER = ("beta-Adrenergic Blocker [EPC]", "Adrenergic beta-Antagonists [MoA]")
PROTON_PUMP_INHIBITOR = ("Proton Pump Inhibitor [EPC]", "Proton Pump Inhibitors [MoA]")
SSRI = ("Serotonin Reuptake Inhibitor [EPC]", "Serotonin Uptake Inhibitors [MoA]")
FACTOR_XA_INHIBITOR = ("Factor Xa Inhibitor [EPC]", "Factor Xa Inhibitors [MoA]")
PENICILLIN = ("Penicillin-class Antibacterial [EPC]", "Penicillins [CS]")
OPIOID_AGONIST = ("Opioid Agonist [EPC]", "Full Opioid Agonists [MoA]")
BENZODIAZEPINE = ("Benzodiazepine [EPC]", "Benzodiazepines [CS]")
INSULIN_ANALOG = ("Insulin Analog [EPC]", "Insulin [CS]")

MAINTENANCE_PRODUCTS = (
    DemoProduct(
        "68180-514", "Lisinopril", "Lisinopril", "TABLET", "ORAL", "Lupin Pharmaceuticals, Inc.",
        (("LISINOPRIL", "10", "mg/1"),), ACE_INHIBITOR,
        (bottle("68180-514-01", 100), bottle("68180-514-02", 500)),
    ),
    DemoProduct(
        "68180-515", "Lisinopril", "Lisinopril", "TABLET", "ORAL", "Lupin Pharmaceuticals, Inc.",
        (("LISINOPRIL", "20", "mg/1"),), ACE_INHIBITOR,
        (bottle("68180-515-01", 100), bottle("68180-515-03", 1000)),
    ),
    DemoProduct(
        "68382-028", "Metformin Hydrochloride", "Metformin Hydrochloride", "TABLET, FILM COATED",
        "ORAL", "Zydus Pharmaceuticals USA Inc.",
        (("METFORMIN HYDROCHLORIDE", "500", "mg/1"),), ("Biguanide [EPC]", "Biguanides [CS]"),
        (bottle("68382-028-01", 100, "TABLET, FILM COATED"),
         bottle("68382-028-10", 1000, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "0071-0155", "Lipitor", "atorvastatin calcium", "TABLET, FILM COATED", "ORAL",
        "Parke-Davis Div of Pfizer Inc", (("ATORVASTATIN CALCIUM TRIHYDRATE", "10", "mg/1"),),
        STATIN, (bottle("0071-0155-23", 90, "TABLET, FILM COATED"),),
        marketing_category="NDA", application_number="NDA020702",
    ),
    DemoProduct(
        "59762-0157", "Atorvastatin Calcium", "atorvastatin calcium", "TABLET, FILM COATED",
        "ORAL", "Greenstone LLC", (("ATORVASTATIN CALCIUM TRIHYDRATE", "40", "mg/1"),), STATIN,
        (bottle("59762-0157-1", 90, "TABLET, FILM COATED"),
         bottle("59762-0157-2", 500, "TABLET, FILM COATED")),
        marketing_category="NDA AUTHORIZED GENERIC", application_number="NDA020702",
    ),
    DemoProduct(
        "31722-238", "Amlodipine Besylate", "Amlodipine Besylate", "TABLET", "ORAL",
        "Camber Pharmaceuticals, Inc.", (("AMLODIPINE BESYLATE", "5", "mg/1"),), DIHYDROPYRIDINE,
        (bottle("31722-238-90", 90), bottle("31722-238-05", 500)),
    ),
    DemoProduct(
        "31722-239", "Amlodipine Besylate", "Amlodipine Besylate", "TABLET", "ORAL",
        "Camber Pharmaceuticals, Inc.", (("AMLODIPINE BESYLATE", "10", "mg/1"),), DIHYDROPYRIDINE,
        (bottle("31722-239-90", 90),),
    ),
    DemoProduct(
        "0378-1803", "Levothyroxine Sodium", "Levothyroxine Sodium", "TABLET", "ORAL",
        "Mylan Pharmaceuticals Inc.", (("LEVOTHYROXINE SODIUM", "50", "ug/1"),), THYROXINE,
        (bottle("0378-1803-01", 100), bottle("0378-1803-10", 1000)),
    ),
    DemoProduct(
        "0378-1809", "Levothyroxine Sodium", "Levothyroxine Sodium", "TABLET", "ORAL",
        "Mylan Pharmaceuticals Inc.", (("LEVOTHYROXINE SODIUM", "100", "ug/1"),), THYROXINE,
        (bottle("0378-1809-01", 100), bottle("0378-1809-77", 90)),
    ),
    DemoProduct(
        "13668-409", "Losartan Potassium", "Losartan Potassium", "TABLET, FILM COATED", "ORAL",
        "Torrent Pharmaceuticals Limited", (("LOSARTAN POTASSIUM", "50", "mg/1"),),
        ("Angiotensin 2 Receptor Blocker [EPC]", "Angiotensin 2 Receptor Antagonists [MoA]"),
        (bottle("13668-409-90", 90, "TABLET, FILM COATED"),
         bottle("13668-409-10", 1000, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "0186-1090", "Toprol XL", "metoprolol succinate", "TABLET, EXTENDED RELEASE", "ORAL",
        "AstraZeneca LP", (("METOPROLOL SUCCINATE", "50", "mg/1"),), BETA_BLOCKER,
        (bottle("0186-1090-05", 100, "TABLET, EXTENDED RELEASE"),),
        marketing_category="NDA", application_number="NDA019962",
    ),
    DemoProduct(
        "55111-466", "Metoprolol Succinate", "Metoprolol Succinate", "TABLET, EXTENDED RELEASE",
        "ORAL", "Dr. Reddy's Laboratories Limited", (("METOPROLOL SUCCINATE", "25", "mg/1"),),
        BETA_BLOCKER,
        (bottle("55111-466-01", 100, "TABLET, EXTENDED RELEASE"),
         bottle("55111-466-05", 500, "TABLET, EXTENDED RELEASE")),
    ),
    DemoProduct(
        "55111-158", "Omeprazole", "Omeprazole", "CAPSULE, DELAYED RELEASE", "ORAL",
        "Dr. Reddy's Laboratories Limited", (("OMEPRAZOLE", "20", "mg/1"),), PROTON_PUMP_INHIBITOR,
        (bottle("55111-158-30", 30, "CAPSULE, DELAYED RELEASE"),
         bottle("55111-158-01", 100, "CAPSULE, DELAYED RELEASE")),
    ),
    DemoProduct(
        "0093-0012", "Pantoprazole Sodium", "Pantoprazole Sodium", "TABLET, DELAYED RELEASE",
        "ORAL", "Teva Pharmaceuticals USA, Inc.", (("PANTOPRAZOLE SODIUM", "40", "mg/1"),),
        PROTON_PUMP_INHIBITOR,
        (bottle("0093-0012-98", 90, "TABLET, DELAYED RELEASE"),
         bottle("0093-0012-10", 1000, "TABLET, DELAYED RELEASE")),
    ),
    DemoProduct(
        "65862-012", "Sertraline Hydrochloride", "Sertraline Hydrochloride", "TABLET, FILM COATED",
        "ORAL", "Aurobindo Pharma Limited", (("SERTRALINE HYDROCHLORIDE", "50", "mg/1"),), SSRI,
        (bottle("65862-012-30", 30, "TABLET, FILM COATED"),
         bottle("65862-012-05", 500, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "68382-067", "Simvastatin", "Simvastatin", "TABLET, FILM COATED", "ORAL",
        "Zydus Pharmaceuticals USA Inc.", (("SIMVASTATIN", "20", "mg/1"),), STATIN,
        (bottle("68382-067-16", 90, "TABLET, FILM COATED"),
         bottle("68382-067-10", 1000, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "29300-128", "Hydrochlorothiazide", "Hydrochlorothiazide", "TABLET", "ORAL",
        "Unichem Pharmaceuticals (USA), Inc.", (("HYDROCHLOROTHIAZIDE", "25", "mg/1"),),
        ("Thiazide Diuretic [EPC]", "Thiazides [CS]"),
        (bottle("29300-128-01", 100), bottle("29300-128-10", 1000)),
    ),
    DemoProduct(
        "51672-4032", "Warfarin Sodium", "Warfarin Sodium", "TABLET", "ORAL",
        "Taro Pharmaceuticals U.S.A., Inc.", (("WARFARIN SODIUM", "5", "mg/1"),),
        ("Vitamin K Antagonist [EPC]", "Vitamin K Inhibitors [MoA]"),
        (bottle("51672-4032-1", 100), bottle("51672-4032-3", 1000)),
    ),
    DemoProduct(
        "65862-199", "Gabapentin", "Gabapentin", "CAPSULE", "ORAL", "Aurobindo Pharma Limited",
        (("GABAPENTIN", "300", "mg/1"),), ("Anti-epileptic Agent [EPC]",),
        (bottle("65862-199-01", 100, "CAPSULE"), bottle("65862-199-05", 500, "CAPSULE")),
    ),
    DemoProduct(
        "0093-7426", "Montelukast Sodium", "Montelukast Sodium", "TABLET, FILM COATED", "ORAL",
        "Teva Pharmaceuticals USA, Inc.", (("MONTELUKAST SODIUM", "10", "mg/1"),),
        ("Leukotriene Receptor Antagonist [EPC]", "Leukotriene Receptor Antagonists [MoA]"),
        (bottle("0093-7426-56", 30, "TABLET, FILM COATED"),
         bottle("0093-7426-98", 90, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "55111-196", "Clopidogrel", "Clopidogrel Bisulfate", "TABLET, FILM COATED", "ORAL",
        "Dr. Reddy's Laboratories Limited", (("CLOPIDOGREL BISULFATE", "75", "mg/1"),),
        ("P2Y12 Platelet Inhibitor [EPC]", "P2Y12 Receptor Antagonists [MoA]"),
        (bottle("55111-196-30", 30, "TABLET, FILM COATED"),
         bottle("55111-196-90", 90, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "0003-0894", "Eliquis", "apixaban", "TABLET, FILM COATED", "ORAL",
        "E.R. Squibb & Sons, L.L.C.", (("APIXABAN", "5", "mg/1"),), FACTOR_XA_INHIBITOR,
        (bottle("0003-0894-21", 60, "TABLET, FILM COATED"),),
        marketing_category="NDA", application_number="NDA202155",
    ),
    DemoProduct(
        "50458-580", "Xarelto", "rivaroxaban", "TABLET, FILM COATED", "ORAL",
        "Janssen Pharmaceuticals, Inc.", (("RIVAROXABAN", "20", "mg/1"),), FACTOR_XA_INHIBITOR,
        (bottle("50458-580-30", 30, "TABLET, FILM COATED"),),
        marketing_category="NDA", application_number="NDA022406",
    ),
    DemoProduct(
        "13668-136", "Escitalopram", "Escitalopram Oxalate", "TABLET, FILM COATED", "ORAL",
        "Torrent Pharmaceuticals Limited", (("ESCITALOPRAM OXALATE", "10", "mg/1"),), SSRI,
        (bottle("13668-136-90", 90, "TABLET, FILM COATED"),
         bottle("13668-136-05", 500, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "0378-0216", "Furosemide", "Furosemide", "TABLET", "ORAL", "Mylan Pharmaceuticals Inc.",
        (("FUROSEMIDE", "40", "mg/1"),),
        ("Loop Diuretic [EPC]", "Sodium Potassium Chloride Symporter Inhibitors [MoA]"),
        (bottle("0378-0216-01", 100), bottle("0378-0216-10", 1000)),
    ),
    DemoProduct(
        "0093-7295", "Carvedilol", "Carvedilol", "TABLET, FILM COATED", "ORAL",
        "Teva Pharmaceuticals USA, Inc.", (("CARVEDILOL", "12.5", "mg/1"),),
        ("alpha-Adrenergic Blocker [EPC]", "beta-Adrenergic Blocker [EPC]"),
        (bottle("0093-7295-01", 100, "TABLET, FILM COATED"),
         bottle("0093-7295-05", 500, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "68382-132", "Tamsulosin Hydrochloride", "Tamsulosin Hydrochloride", "CAPSULE", "ORAL",
        "Zydus Pharmaceuticals USA Inc.", (("TAMSULOSIN HYDROCHLORIDE", ".4", "mg/1"),),
        ("alpha-Adrenergic Blocker [EPC]", "Adrenergic alpha-Antagonists [MoA]"),
        (bottle("68382-132-01", 100, "CAPSULE"), bottle("68382-132-10", 1000, "CAPSULE")),
    ),
    DemoProduct(
        "60505-2653", "Trazodone Hydrochloride", "Trazodone Hydrochloride", "TABLET", "ORAL",
        "Apotex Corp.", (("TRAZODONE HYDROCHLORIDE", "50", "mg/1"),), SSRI,
        (bottle("60505-2653-1", 100), bottle("60505-2653-3", 1000)),
    ),
    DemoProduct(
        "59310-579", "ProAir HFA", "albuterol sulfate", "AEROSOL, METERED",
        "RESPIRATORY (INHALATION)", "Teva Respiratory, LLC", (("ALBUTEROL SULFATE", "90", "ug/1"),),
        ("beta2-Adrenergic Agonist [EPC]", "Adrenergic beta2-Agonists [MoA]"),
        (DemoPackage(
            "59310-579-22", "8.5", "g",
            "1 INHALER in 1 CARTON (59310-579-22)  > 200 AEROSOL, METERED in 1 INHALER",
        ),),
        marketing_category="NDA", application_number="NDA021457",
    ),
)  # fmt: skip

# Amoxicillin and penicillin V share "Penicillin-class Antibacterial [EPC]", so a class
# allergy to penicillins catches both; SMX-TMP demonstrates a sulfonamide allergy.
ANTIBIOTIC_PRODUCTS = (
    DemoProduct(
        "0093-3109", "Amoxicillin", "Amoxicillin", "CAPSULE", "ORAL",
        "Teva Pharmaceuticals USA, Inc.", (("AMOXICILLIN", "500", "mg/1"),), PENICILLIN,
        (bottle("0093-3109-01", 100, "CAPSULE"), bottle("0093-3109-05", 500, "CAPSULE")),
    ),
    DemoProduct(
        "65862-503", "Amoxicillin and Clavulanate Potassium",
        "Amoxicillin and Clavulanate Potassium", "TABLET, FILM COATED", "ORAL",
        "Aurobindo Pharma Limited",
        (("AMOXICILLIN", "875", "mg/1"), ("CLAVULANATE POTASSIUM", "125", "mg/1")),
        (*PENICILLIN, "beta Lactamase Inhibitor [EPC]", "beta Lactamase Inhibitors [MoA]"),
        (bottle("65862-503-20", 20, "TABLET, FILM COATED"),
         bottle("65862-503-01", 100, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "65862-175", "Penicillin V Potassium", "Penicillin V Potassium", "TABLET, FILM COATED",
        "ORAL", "Aurobindo Pharma Limited", (("PENICILLIN V POTASSIUM", "250", "mg/1"),),
        PENICILLIN,
        (bottle("65862-175-01", 100, "TABLET, FILM COATED"),
         bottle("65862-175-99", 1000, "TABLET, FILM COATED")),
    ),
    DemoProduct(
        "68180-122", "Cephalexin", "Cephalexin", "CAPSULE", "ORAL", "Lupin Pharmaceuticals, Inc.",
        (("CEPHALEXIN", "500", "mg/1"),),
        ("Cephalosporin Antibacterial [EPC]", "Cephalosporins [CS]"),
        (bottle("68180-122-01", 100, "CAPSULE"), bottle("68180-122-02", 500, "CAPSULE")),
    ),
    DemoProduct(
        "0069-3060", "Zithromax", "azithromycin dihydrate", "TABLET, FILM COATED", "ORAL",
        "Pfizer Laboratories Div Pfizer Inc", (("AZITHROMYCIN DIHYDRATE", "250", "mg/1"),),
        ("Macrolide Antimicrobial [EPC]", "Macrolides [CS]"),
        (DemoPackage(
            "0069-3060-75", "6", "TABLET",
            "1 BLISTER PACK in 1 CARTON (0069-3060-75)  > 6 TABLET, FILM COATED in 1 BLISTER PACK",
        ),),
        marketing_category="NDA", application_number="NDA050711",
    ),
    DemoProduct(
        "53489-146", "Sulfamethoxazole and Trimethoprim", "Sulfamethoxazole and Trimethoprim",
        "TABLET", "ORAL", "Sun Pharmaceutical Industries, Inc.",
        (("SULFAMETHOXAZOLE", "800", "mg/1"), ("TRIMETHOPRIM", "160", "mg/1")),
        ("Sulfonamide Antibacterial [EPC]", "Sulfonamides [CS]",
         "Dihydrofolate Reductase Inhibitor Antibacterial [EPC]"),
        (bottle("53489-146-01", 100, "TABLET", "BOTTLE, PLASTIC"),
         bottle("53489-146-05", 500, "TABLET", "BOTTLE, PLASTIC")),
    ),
    DemoProduct(
        "55111-127", "Ciprofloxacin", "Ciprofloxacin Hydrochloride", "TABLET, FILM COATED", "ORAL",
        "Dr. Reddy's Laboratories Limited", (("CIPROFLOXACIN HYDROCHLORIDE", "500", "mg/1"),),
        ("Fluoroquinolone Antibacterial [EPC]", "Quinolones [CS]"),
        (bottle("55111-127-01", 100, "TABLET, FILM COATED"),),
    ),
)  # fmt: skip

CONTROLLED_PRODUCTS = (
    DemoProduct(
        "0406-0512", "Oxycodone and Acetaminophen", "Oxycodone and Acetaminophen", "TABLET",
        "ORAL", "SpecGx LLC",
        (("OXYCODONE HYDROCHLORIDE", "5", "mg/1"), ("ACETAMINOPHEN", "325", "mg/1")),
        OPIOID_AGONIST, (bottle("0406-0512-01", 100), bottle("0406-0512-05", 500)),
        dea_schedule=DEASchedule.CII,
    ),
    DemoProduct(
        "63481-629", "Percocet", "oxycodone hydrochloride and acetaminophen", "TABLET", "ORAL",
        "Endo Pharmaceuticals Inc.",
        (("OXYCODONE HYDROCHLORIDE", "10", "mg/1"), ("ACETAMINOPHEN", "325", "mg/1")),
        OPIOID_AGONIST, (bottle("63481-629-70", 100),), dea_schedule=DEASchedule.CII,
    ),
    DemoProduct(
        "42858-001", "Oxycodone Hydrochloride", "Oxycodone Hydrochloride", "TABLET", "ORAL",
        "Rhodes Pharmaceuticals L.P.", (("OXYCODONE HYDROCHLORIDE", "5", "mg/1"),),
        OPIOID_AGONIST, (bottle("42858-001-01", 100),), dea_schedule=DEASchedule.CII,
    ),
    DemoProduct(
        "0406-0365", "Hydrocodone Bitartrate and Acetaminophen",
        "Hydrocodone Bitartrate and Acetaminophen", "TABLET", "ORAL", "SpecGx LLC",
        (("HYDROCODONE BITARTRATE", "5", "mg/1"), ("ACETAMINOPHEN", "325", "mg/1")),
        OPIOID_AGONIST, (bottle("0406-0365-01", 100), bottle("0406-0365-05", 500)),
        dea_schedule=DEASchedule.CII,
    ),
    DemoProduct(
        "53746-110", "Hydrocodone Bitartrate and Acetaminophen",
        "Hydrocodone Bitartrate and Acetaminophen", "TABLET", "ORAL",
        "Amneal Pharmaceuticals of New York LLC",
        (("HYDROCODONE BITARTRATE", "10", "mg/1"), ("ACETAMINOPHEN", "325", "mg/1")),
        OPIOID_AGONIST, (bottle("53746-110-01", 100),), dea_schedule=DEASchedule.CII,
    ),
    DemoProduct(
        "0781-1077", "Alprazolam", "Alprazolam", "TABLET", "ORAL", "Sandoz Inc",
        (("ALPRAZOLAM", ".5", "mg/1"),), BENZODIAZEPINE,
        (bottle("0781-1077-01", 100), bottle("0781-1077-10", 1000)),
        dea_schedule=DEASchedule.CIV,
    ),
    DemoProduct(
        "59762-3721", "Alprazolam", "Alprazolam", "TABLET", "ORAL", "Greenstone LLC",
        (("ALPRAZOLAM", "1", "mg/1"),), BENZODIAZEPINE, (bottle("59762-3721-1", 100),),
        marketing_category="NDA AUTHORIZED GENERIC", application_number="NDA018276",
        dea_schedule=DEASchedule.CIV,
    ),
    DemoProduct(
        "0093-0074", "Zolpidem Tartrate", "Zolpidem Tartrate", "TABLET, FILM COATED", "ORAL",
        "Teva Pharmaceuticals USA, Inc.", (("ZOLPIDEM TARTRATE", "10", "mg/1"),),
        ("gamma-Aminobutyric Acid-ergic Agonist [EPC]", "GABA A Agonists [MoA]"),
        (bottle("0093-0074-01", 100, "TABLET, FILM COATED"),
         bottle("0093-0074-05", 500, "TABLET, FILM COATED")),
        dea_schedule=DEASchedule.CIV,
    ),
    DemoProduct(
        "0024-5401", "Ambien", "zolpidem tartrate", "TABLET, FILM COATED", "ORAL",
        "sanofi-aventis U.S. LLC", (("ZOLPIDEM TARTRATE", "5", "mg/1"),),
        ("gamma-Aminobutyric Acid-ergic Agonist [EPC]", "GABA A Agonists [MoA]"),
        (bottle("0024-5401-31", 100, "TABLET, FILM COATED"),),
        marketing_category="NDA", application_number="NDA019908", dea_schedule=DEASchedule.CIV,
    ),
    DemoProduct(
        "0093-0058", "Tramadol Hydrochloride", "Tramadol Hydrochloride", "TABLET, FILM COATED",
        "ORAL", "Teva Pharmaceuticals USA, Inc.", (("TRAMADOL HYDROCHLORIDE", "50", "mg/1"),),
        OPIOID_AGONIST,
        (bottle("0093-0058-01", 100, "TABLET, FILM COATED"),
         bottle("0093-0058-05", 500, "TABLET, FILM COATED")),
        dea_schedule=DEASchedule.CIV,
    ),
    DemoProduct(
        "0071-1014", "Lyrica", "pregabalin", "CAPSULE", "ORAL", "Parke-Davis Div of Pfizer Inc",
        (("PREGABALIN", "75", "mg/1"),), ("Anti-epileptic Agent [EPC]",),
        (bottle("0071-1014-68", 90, "CAPSULE"),),
        marketing_category="NDA", application_number="NDA021446", dea_schedule=DEASchedule.CV,
    ),
    DemoProduct(
        "69097-956", "Pregabalin", "Pregabalin", "CAPSULE", "ORAL", "Cipla USA Inc.",
        (("PREGABALIN", "75", "mg/1"),), ("Anti-epileptic Agent [EPC]",),
        (bottle("69097-956-05", 90, "CAPSULE"), bottle("69097-956-12", 500, "CAPSULE")),
        dea_schedule=DEASchedule.CV,
    ),
    DemoProduct(
        "0009-0347", "Depo-Testosterone", "testosterone cypionate", "INJECTION, SOLUTION",
        "INTRAMUSCULAR", "Pharmacia & Upjohn Company LLC",
        (("TESTOSTERONE CYPIONATE", "100", "mg/mL"),),
        ("Androgen [EPC]", "Androgen Receptor Agonists [MoA]"),
        (DemoPackage(
            "0009-0347-02", "10", "mL", "1 VIAL in 1 CARTON (0009-0347-02)  > 10 mL in 1 VIAL",
        ),),
        marketing_category="ANDA", application_number="ANDA085635", dea_schedule=DEASchedule.CIII,
    ),
    DemoProduct(
        "12496-1208", "Suboxone", "buprenorphine hydrochloride and naloxone hydrochloride",
        "FILM, SOLUBLE", "SUBLINGUAL", "Indivior Inc.",
        (("BUPRENORPHINE HYDROCHLORIDE", "8", "mg/1"), ("NALOXONE HYDROCHLORIDE", "2", "mg/1")),
        ("Partial Opioid Agonist [EPC]", "Opioid Antagonist [EPC]"),
        (DemoPackage(
            "12496-1208-3", "30", "FILM",
            "30 POUCH in 1 CARTON (12496-1208-3)  > 1 FILM, SOLUBLE in 1 POUCH (12496-1208-1)",
        ),),
        marketing_category="NDA", application_number="NDA022410", dea_schedule=DEASchedule.CIII,
    ),
)  # fmt: skip

# Kept at 2-8 °C until dispensed and shipped cold (shipping's cold-chain packaging rules).
REFRIGERATED_PRODUCTS = (
    DemoProduct(
        "0002-7510", "Humalog", "insulin lispro", "INJECTION, SOLUTION",
        "INTRAVENOUS; SUBCUTANEOUS", "Eli Lilly and Company",
        (("INSULIN LISPRO", "100", "[iU]/mL"),), INSULIN_ANALOG,
        (
            DemoPackage(
                "0002-7510-01", "10", "mL", "1 VIAL in 1 CARTON (0002-7510-01)  > 10 mL in 1 VIAL",
            ),
            DemoPackage(
                "0002-7510-17", "3", "mL", "1 VIAL in 1 CARTON (0002-7510-17)  > 3 mL in 1 VIAL",
            ),
        ),
        marketing_category="BLA", application_number="BLA020563", storage=Storage.REFRIGERATED,
    ),
    DemoProduct(
        "0002-8799", "Humalog KwikPen", "insulin lispro", "INJECTION, SOLUTION", "SUBCUTANEOUS",
        "Eli Lilly and Company", (("INSULIN LISPRO", "100", "[iU]/mL"),), INSULIN_ANALOG,
        (DemoPackage(
            "0002-8799-59", "15", "mL",
            "5 SYRINGE in 1 CARTON (0002-8799-59)  > 3 mL in 1 SYRINGE",
        ),),
        marketing_category="BLA", application_number="BLA020563", storage=Storage.REFRIGERATED,
    ),
    DemoProduct(
        "0088-2220", "Lantus", "insulin glargine", "INJECTION, SOLUTION", "SUBCUTANEOUS",
        "sanofi-aventis U.S. LLC", (("INSULIN GLARGINE", "100", "[iU]/mL"),), INSULIN_ANALOG,
        (DemoPackage(
            "0088-2220-33", "10", "mL", "1 VIAL in 1 CARTON (0088-2220-33)  > 10 mL in 1 VIAL",
        ),),
        marketing_category="BLA", application_number="BLA021081", storage=Storage.REFRIGERATED,
    ),
    DemoProduct(
        "0088-2219", "Lantus SoloStar", "insulin glargine", "INJECTION, SOLUTION", "SUBCUTANEOUS",
        "sanofi-aventis U.S. LLC", (("INSULIN GLARGINE", "100", "[iU]/mL"),), INSULIN_ANALOG,
        (DemoPackage(
            "0088-2219-05", "15", "mL",
            "5 SYRINGE, PLASTIC in 1 CARTON (0088-2219-05)  > 3 mL in 1 SYRINGE, PLASTIC",
        ),),
        marketing_category="BLA", application_number="BLA021081", storage=Storage.REFRIGERATED,
    ),
    DemoProduct(
        "0002-1434", "Trulicity", "dulaglutide", "INJECTION, SOLUTION", "SUBCUTANEOUS",
        "Eli Lilly and Company", (("DULAGLUTIDE", "1.5", "mg/.5mL"),),
        ("GLP-1 Receptor Agonist [EPC]", "Glucagon-Like Peptide-1 (GLP-1) Agonists [MoA]"),
        (DemoPackage(
            "0002-1434-80", "2", "mL",
            "4 SYRINGE in 1 CARTON (0002-1434-80)  > .5 mL in 1 SYRINGE",
        ),),
        marketing_category="BLA", application_number="BLA125469", storage=Storage.REFRIGERATED,
    ),
)  # fmt: skip

PRODUCTS = (
    *MAINTENANCE_PRODUCTS,
    *ANTIBIOTIC_PRODUCTS,
    *CONTROLLED_PRODUCTS,
    *REFRIGERATED_PRODUCTS,
)

# =========================================================================== prescribers


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

# =========================================================================== patients


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

# =========================================================================== seeding


@dataclass
class DemoSummary:
    """What one run of ``seed_demo_pharmacy`` found: demo rows in total and newly created."""

    total: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, *, total: int, created: int) -> None:
        self.total[kind] = total
        self.created[kind] = created

    @property
    def created_anything(self) -> bool:
        return any(self.created.values())

    def lines(self) -> list[str]:
        return [
            f"  {kind:<24} {self.total[kind]:>4} ({self.created[kind]} new)" for kind in self.total
        ]


def demo_data_present() -> bool:
    """True when the database already holds people: any patient or any user account."""
    return Patient.objects.exists() or User.objects.exists()


def seed_demo_pharmacy(*, stdout: TextIOBase) -> DemoSummary:
    """Load the demo pharmacy in one transaction; return what was found and created.

    Creates only what is missing (by natural key) and never changes existing rows, so a
    second run writes nothing. Staff go through ``create_staff``; it raises
    ``StaffError`` if the password validators refuse a demo password, and then nothing
    at all is written.
    """
    summary = DemoSummary()
    with transaction.atomic():
        _seed_staff(summary)
        classes = _seed_pharmacologic_classes(summary)
        ingredients = _seed_ingredients(summary)
        _seed_products(summary, classes=classes, ingredients=ingredients)
        _seed_prescribers(summary)
        _seed_patients(summary, classes=classes, ingredients=ingredients)
    stdout.write("Demo pharmacy:")
    for line in summary.lines():
        stdout.write(line)
    return summary


def _seed_staff(summary: DemoSummary) -> None:
    existing = {
        name.lower()
        for name in User.objects.filter(username__in=[s.username for s in STAFF]).values_list(
            "username", flat=True
        )
    }
    created = 0
    for staff in STAFF:
        if staff.username.lower() in existing:
            continue
        create_staff(
            staff.username, role=staff.role, password=staff.password,
            first_name=staff.first_name, last_name=staff.last_name, email=staff.email,
            license_number=staff.license_number, license_state=staff.license_state,
        )  # fmt: skip
        created += 1
    summary.count("staff accounts", total=len(STAFF), created=created)


_CLASS_NAME = re.compile(r"^(?P<name>.+?)\s*\[(?P<kind>[A-Za-z]+)\]$")


def _class_key(text: str) -> tuple[str, str]:
    """("Penicillin-class Antibacterial", "EPC") of "Penicillin-class Antibacterial [EPC]"."""
    match = _CLASS_NAME.match(text)
    if not match:
        return text.strip(), PharmacologicClass.Kind.OTHER
    return match["name"], match["kind"]


def _seed_pharmacologic_classes(
    summary: DemoSummary,
) -> dict[tuple[str, str], PharmacologicClass]:
    keys = {_class_key(text) for product in PRODUCTS for text in product.pharmacologic_classes}
    names = {name for name, _kind in keys}
    found = {(c.name, c.kind): c for c in PharmacologicClass.objects.filter(name__in=names)}
    missing = [
        PharmacologicClass(name=name, kind=kind) for name, kind in sorted(keys - found.keys())
    ]
    PharmacologicClass.objects.bulk_create(missing)
    found.update({(c.name, c.kind): c for c in missing})
    summary.count("pharmacologic classes", total=len(keys), created=len(missing))
    return found


def _seed_ingredients(summary: DemoSummary) -> dict[str, Ingredient]:
    """Ingredients of the catalogue and of the patients' allergies, keyed by normalised name."""
    names = [name for product in PRODUCTS for name, _strength, _unit in product.strengths]
    names += [a.ingredient for patient in PATIENTS for a in patient.allergies if a.ingredient]
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(normalize_ingredient_name(name), name)
    found = Ingredient.objects.in_bulk(list(wanted), field_name="normalized_name")
    missing = [
        Ingredient(name=name, normalized_name=key)
        for key, name in wanted.items()
        if key not in found
    ]
    Ingredient.objects.bulk_create(missing)
    found.update({i.normalized_name: i for i in missing})
    summary.count("ingredients", total=len(wanted), created=len(missing))
    return found


def _seed_products(
    summary: DemoSummary,
    *,
    classes: dict[tuple[str, str], PharmacologicClass],
    ingredients: dict[str, Ingredient],
) -> None:
    found = Product.objects.in_bulk([p.product_ndc for p in PRODUCTS], field_name="product_ndc")
    new_products = [
        Product(
            product_ndc=p.product_ndc,
            product_type="HUMAN PRESCRIPTION DRUG",
            proprietary_name=p.proprietary_name,
            nonproprietary_name=p.nonproprietary_name,
            dosage_form=p.dosage_form,
            route=p.route,
            marketing_category=p.marketing_category,
            application_number=p.application_number,
            labeler_name=p.labeler_name,
            dea_schedule=p.dea_schedule,
            storage=p.storage,
        )
        for p in PRODUCTS
        if p.product_ndc not in found
    ]
    Product.objects.bulk_create(new_products)
    found.update({p.product_ndc: p for p in new_products})
    summary.count("products", total=len(PRODUCTS), created=len(new_products))

    # Strengths and class links are filled in where missing, so a product added by an
    # import before the seed still gets them; existing ones are left as they are.
    product_ids = [found[p.product_ndc].pk for p in PRODUCTS]
    have_strengths = set(
        ProductIngredient.objects.filter(product_id__in=product_ids).values_list(
            "product_id", "ingredient_id"
        )
    )
    new_strengths = []
    for p in PRODUCTS:
        for name, strength, unit in p.strengths:
            product, ingredient = found[p.product_ndc], ingredients[normalize_ingredient_name(name)]
            if (product.pk, ingredient.pk) not in have_strengths:
                new_strengths.append(
                    ProductIngredient(
                        product=product,
                        ingredient=ingredient,
                        strength=strength,
                        strength_unit=unit,
                    )
                )
    ProductIngredient.objects.bulk_create(new_strengths)

    links = Product.pharmacologic_classes.through
    have_links = set(
        links.objects.filter(product_id__in=product_ids).values_list(
            "product_id", "pharmacologicclass_id"
        )
    )
    new_links = []
    for p in PRODUCTS:
        for text in p.pharmacologic_classes:
            pair = (found[p.product_ndc].pk, classes[_class_key(text)].pk)
            if pair not in have_links:
                have_links.add(pair)
                new_links.append(links(product_id=pair[0], pharmacologicclass_id=pair[1]))
    links.objects.bulk_create(new_links)

    packages = [(p, package) for p in PRODUCTS for package in p.packages]
    have_packages = Package.objects.in_bulk(
        [package.ndc for _p, package in packages], field_name="package_ndc"
    )
    new_packages = [
        Package(
            product=found[p.product_ndc],
            package_ndc=package.ndc,
            ndc10=ndc10_digits(package.ndc),
            ndc11=ndc11_from_package_ndc(package.ndc),
            description=package.description,
            quantity=Decimal(package.quantity),
            unit=package.unit,
        )
        for p, package in packages
        if package.ndc not in have_packages
    ]
    Package.objects.bulk_create(new_packages)
    summary.count("packages", total=len(packages), created=len(new_packages))


def _seed_prescribers(summary: DemoSummary) -> None:
    found = Prescriber.objects.in_bulk([p.npi for p in PRESCRIBERS], field_name="npi")
    new_prescribers = []
    for p in PRESCRIBERS:
        if p.npi in found:
            continue
        prescriber = Prescriber(
            first_name=p.first_name,
            last_name=p.last_name,
            credentials=p.credentials,
            npi=p.npi,
            dea_number=p.dea_number,
            dea_schedules=list(p.dea_schedules),
            state_license_number=p.state_license_number,
            license_state=p.license_state,
            practice_name=p.practice_name,
            address_line1=p.address_line1,
            address_line2=p.address_line2,
            city=p.city,
            state=p.state,
            postal_code=p.postal_code,
            phone=p.phone,
            fax=p.fax,
        )
        # NPI and DEA check digits are field validators, which only full_clean runs.
        prescriber.full_clean(validate_unique=False)
        new_prescribers.append(prescriber)
    Prescriber.objects.bulk_create(new_prescribers)
    summary.count("prescribers", total=len(PRESCRIBERS), created=len(new_prescribers))


def _seed_patients(
    summary: DemoSummary,
    *,
    classes: dict[tuple[str, str], PharmacologicClass],
    ingredients: dict[str, Ingredient],
) -> None:
    """Patients by name and date of birth. Addresses and allergies are written with a new
    patient only: after that the record is the staff's to keep current."""
    found = {
        (p.first_name, p.last_name, p.date_of_birth)
        for p in Patient.objects.filter(last_name__in=[p.last_name for p in PATIENTS])
    }
    new = [p for p in PATIENTS if (p.first_name, p.last_name, p.date_of_birth) not in found]
    patients = Patient.objects.bulk_create(
        [
            Patient(
                first_name=p.first_name,
                middle_name=p.middle_name,
                last_name=p.last_name,
                date_of_birth=p.date_of_birth,
                sex=p.sex,
                phone=p.phone,
                email=p.email,
                preferred_language=p.preferred_language,
                no_known_allergies=p.no_known_allergies,
                child_resistant_waiver_on=p.child_resistant_waiver_on,
            )
            for p in new
        ]
    )
    recorded_by = User.objects.filter(username=STAFF[0].username).first()
    addresses, allergies = [], []
    for demo, patient in zip(new, patients, strict=True):
        addresses += [
            PatientAddress(
                patient=patient,
                label=a.label,
                line1=a.line1,
                line2=a.line2,
                city=a.city,
                state=a.state,
                postal_code=a.postal_code,
                is_default_shipping=index == 0,
            )
            for index, a in enumerate(demo.addresses)
        ]
        allergies += [
            Allergy(
                patient=patient,
                allergen=a.allergen,
                ingredient=ingredients[normalize_ingredient_name(a.ingredient)]
                if a.ingredient
                else None,
                pharmacologic_class=classes[_class_key(a.pharmacologic_class)]
                if a.pharmacologic_class
                else None,
                reaction=a.reaction,
                severity=a.severity,
                recorded_by=recorded_by,
            )
            for a in demo.allergies
        ]
    PatientAddress.objects.bulk_create(addresses)
    Allergy.objects.bulk_create(allergies)
    summary.count("patients", total=len(PATIENTS), created=len(new))
    summary.count("patient addresses", total=sum(len(p.addresses) for p in PATIENTS),
                  created=len(addresses))  # fmt: skip
    summary.count("allergies", total=sum(len(p.allergies) for p in PATIENTS),
                  created=len(allergies))  # fmt: skip


def seed_demo(*, stdout: TextIOBase) -> dict[str, int]:
    """This app's part of ``manage.py seed_demo`` (staff, people, catalogue): how many
    rows of each kind were created. Every app's ``demo.seed_demo`` has this signature."""
    return seed_demo_pharmacy(stdout=stdout).created
