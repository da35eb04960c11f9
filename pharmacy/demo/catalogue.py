"""The demo drug catalogue: about fifty common products with their packages.

Drug facts (names, strengths, labelers, pharmacologic classes, DEA schedules) are real.
Package NDCs are real where they are well known (Lipitor 0071-0155-23, Humalog
0002-7510-01, Suboxone, Lyrica, Depo-Testosterone ...); the others use the labeler's
real product NDC with a plausible package code.
"""

from dataclasses import dataclass

from inventory.models import DEASchedule, Storage


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
