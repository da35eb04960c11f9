"""Writing the demo pharmacy: every row found by its natural key (username, NPI, product
NDC, package NDC, patient name + date of birth) and created only when missing; rows that
exist are never changed, so running the seed again duplicates and changes nothing."""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from io import TextIOBase

from django.db import transaction

from inventory.ingredients import normalize_ingredient_name
from inventory.models import (
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
)
from inventory.ndc import ndc10_digits, ndc11_from_package_ndc
from pharmacy.demo.catalogue import PRODUCTS
from pharmacy.demo.patients import PATIENTS
from pharmacy.demo.prescribers import PRESCRIBERS
from pharmacy.demo.staff import STAFF
from pharmacy.models import Allergy, Patient, PatientAddress, Prescriber, User
from pharmacy.patient_keys import address_key, patient_search_values
from pharmacy.services import create_staff


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
                **patient_search_values(
                    first_name=p.first_name,
                    middle_name=p.middle_name,
                    last_name=p.last_name,
                    phone=p.phone,
                ),
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
                match_key=address_key(a.line1, a.postal_code),
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
