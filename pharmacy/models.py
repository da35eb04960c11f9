"""The pharmacy's people (staff, patients, prescribers), staff API tokens and the audit
trail."""

import hashlib
import re
from datetime import datetime
from functools import cache

from django.contrib.auth.models import AbstractUser, Group, Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Func, OuterRef, Q, Value

from inventory.models import DEASchedule, Ingredient, PharmacologicClass, Storage
from lib.text import text_problem
from pharmacy import dur, patient_keys
from pharmacy.identifiers import validate_dea_number, validate_npi


class Role(models.TextChoices):
    """A staff member's job; each is a Group of the same name carrying its permissions."""

    TECHNICIAN = "technician", "Technician"
    PHARMACIST = "pharmacist", "Pharmacist"
    MANAGER = "manager", "Manager"


class User(AbstractUser):
    """A member of staff. Their role is the Group they belong to (exactly one).

    Pharmacists carry the license they verify under (number and issuing state).
    """

    license_number = models.CharField(max_length=40, blank=True)
    license_state = models.CharField(max_length=2, blank=True)

    class Meta:
        ordering = ["username"]
        permissions = [
            ("work_technician_queues", "Can work the technician queues (intake, fill, pack)"),
            ("verify_prescriptions", "Can verify prescriptions and filled product (PV1, PV2)"),
            ("view_dashboard", "Can view the manager dashboard"),
            ("manage_staff", "Can manage staff accounts"),
        ]

    @property
    def role(self) -> str | None:
        """The first role group of the user (cached per instance), or None."""
        if not hasattr(self, "_role"):
            self.load_role_and_permissions()
        return self._role

    def load_role_and_permissions(self) -> None:
        """Read the role and every permission ("app_label.codename", through the groups or
        given directly) in one query, ``role_and_permission_subqueries``, and keep both on
        this instance: ``role`` reads the first, ``pharmacy.permissions.StaffRoleBackend``
        the second (ModelBackend's ``_perm_cache``, which it would fill with two queries of
        its own)."""
        self.keep_role_and_permissions(**_users_role_and_permissions().get(pk=self.pk))

    def keep_role_and_permissions(self, *, role_names, permission_names) -> None:
        """Keep the role and permissions read by ``role_and_permission_subqueries``."""
        names = set(role_names or ())
        self._role = next((role for role in Role.values if role in names), None)
        self._role_permissions = set(permission_names or ())

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "No role"


@cache
def role_and_permission_subqueries(user: str) -> dict[str, ArraySubquery]:
    """The one definition of what a staff member may do, as two array subqueries over the
    user whose id is the field ``user`` of the enclosing query: ``role_names`` (their
    groups' names) and ``permission_names`` ("app_label.codename", as ModelBackend names
    them, of every permission they hold through a group or were given directly).

    Read by ``User.load_role_and_permissions`` (a signed-in user's request: one query)
    and by ``pharmacy.permissions.StaffTokenAuthentication`` (in the query that finds
    an API token and its user); ``User.keep_role_and_permissions`` turns the two into
    the role and the permission set that ``User.role``, ``IsStaffWithRole`` and
    ``StaffRoleBackend`` answer from. Built once per ``user`` field: every query that
    uses them resolves a copy of its own.
    """
    user_id = OuterRef(user)
    # PostgreSQL's CONCAT: both columns are NOT NULL, so Concat's NULL guards (a COALESCE
    # around each part, costly to build on every API request) are not needed.
    permission_name = Func(
        F("content_type__app_label"),
        Value("."),
        F("codename"),
        function="CONCAT",
        output_field=models.CharField(),
    )
    return {
        "role_names": ArraySubquery(
            Group.objects.filter(user=user_id).order_by().values_list("name", flat=True)
        ),
        "permission_names": ArraySubquery(
            Permission.objects.filter(Q(group__user=user_id) | Q(user=user_id))
            .order_by()
            .values_list(permission_name, flat=True)
        ),
    }


@cache
def _users_role_and_permissions():
    """Each user's role and permission names. Built once per process and filtered per
    request (each filter is a copy): resolving the subqueries on every request cost more
    than running the query."""
    return User.objects.order_by().values(**role_and_permission_subqueries("pk"))


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which an API token's key is stored and looked up."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, *, now) -> "ApiTokenQuerySet":
        """Tokens that authenticate at ``now``: neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """An API token of a staff member (``Authorization: Token <key>``), for an integration
    or a script. A member may hold several, each named for what uses it.

    Only the SHA-256 of the key is stored (``key_hash``); the key itself is shown once,
    when the token is made (``pharmacy.services.create_api_token``). A fast unsalted hash
    is right here, unlike for passwords: a key is 40 random characters from ``secrets``
    (240 bits), so no amount of hashing speed makes guessing one from its hash feasible,
    and an unsalted digest can be looked up through a unique index on every request.
    ``prefix`` (the key's first 8 characters) lets people tell tokens apart.

    A token stops working when it expires (``expires_at``, ``API_TOKEN_DAYS`` after it was
    made unless said otherwise) or is revoked (``revoked_at``, ``revoked_by``; None by
    means the command line). ``last_used_at`` is written at most once an hour per token
    (``pharmacy.permissions.StaffTokenAuthentication``), so a read does not write on
    every request.
    """

    user = models.ForeignKey("pharmacy.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What uses it.")
    prefix = models.CharField(max_length=8, help_text="The key's first characters.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["user", "-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=False) | Q(revoked_by__isnull=True),
                name="api_token_revoked_by_only_when_revoked",
            )
        ]

    def __str__(self):
        return f"{self.prefix}… {self.name}".strip()


class AuditEvent(models.Model):
    """One append-only line of the audit trail: who did what to which object, when, from where.

    Rows are written by ``pharmacy.services.record_audit_event`` and can never be changed
    or deleted: a database trigger (migration 0002) refuses UPDATE and DELETE.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        SEARCH = "search", "Searched"
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Failed login"

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(
        max_length=150, blank=True, help_text="As typed, for failed logins of unknown users."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient = models.ForeignKey(
        "pharmacy.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    patient_ids = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text="Every patient shown, for a list or search result.",
    )
    summary = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["patient", "-occurred_at"], name="audit_patient_idx")]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"


class PatientSearchError(ValueError):
    """A patient search that cannot be run as typed; the message says what to type."""


# A patient search needs this many characters (one letter would list half the pharmacy)
# and at most this many (nothing a person types at a counter is longer).
MIN_PATIENT_SEARCH = 2
MAX_PATIENT_SEARCH = 100


class PatientQuerySet(models.QuerySet):
    def active(self) -> "PatientQuerySet":
        """Records in use: not merged into another patient's record."""
        return self.filter(merged_into__isnull=True)

    def search(self, text: str) -> "PatientQuerySet":
        """The one patient search (staff patient page, intake picker, API ``q``): records
        in use whose name matches every word typed, whatever its accents, case,
        apostrophes and hyphens ("hernandez" finds "Hernández", "oconnor" "O'Connor";
        each word the start of the first or last name, or any whole part of a name), a
        date of birth (1960-12-10, 12/10/1960), a phone number in any layout (7 digits or
        more), an Rx number or an order number ("order 12", "#12").

        Raises PatientSearchError for fewer than 2 or more than 100 characters, or
        control characters.
        """
        text = (text or "").strip()
        if text_problem(text):
            raise PatientSearchError(
                "The search contains a control or invisible character; type letters, digits "
                "and punctuation only."
            )
        if len(text) < MIN_PATIENT_SEARCH:
            raise PatientSearchError(
                f"Type at least {MIN_PATIENT_SEARCH} characters: part of a name, a date of "
                "birth, a phone number, an Rx number or an order number."
            )
        if len(text) > MAX_PATIENT_SEARCH:
            raise PatientSearchError(
                f"The search is too long ({len(text)} characters; at most "
                f"{MAX_PATIENT_SEARCH}): type part of a name, a date of birth or a number."
            )
        queryset = self.active()
        digits = re.sub(r"\D", "", text)
        order_number = re.fullmatch(r"(?:order\s*)?#\s*(\d+)|order\s*(\d+)", text, re.I)
        if order_number:
            number = int(order_number[1] or order_number[2])
            return queryset.filter(orders__pk=number).distinct() if number < 2**63 else self.none()
        if re.fullmatch(r"[\d\s()+.\-]+", text) and len(digits) >= 7 and not _as_date(text):
            # A phone number in any layout, or an Rx number (digits only). A whole number
            # is one indexed lookup; a local one (7 to 9 digits) compares the last digits.
            phone = patient_keys.phone_key(text)
            found = Q(search_phone=phone) if len(phone) == 10 else Q(search_phone__endswith=phone)
            if text.isdigit():
                found |= Q(prescriptions__rx_number=text)
            return queryset.filter(found).distinct()
        for part in text.replace(",", " ").split():
            born = _as_date(part)
            if born is not None:
                queryset = queryset.filter(date_of_birth=born)
                continue
            if part.isdigit():
                # A short number: an Rx number or an order number.
                found = Q(prescriptions__rx_number=part)
                if int(part) < 2**63:
                    found |= Q(orders__pk=int(part))
                queryset = queryset.filter(found).distinct()
                continue
            key = patient_keys.name_key(part)
            if not key:
                continue
            queryset = queryset.filter(
                Q(search_last_name__startswith=key)
                | Q(search_first_name__startswith=key)
                | Q(search_name_words__contains=[key])
            )
        return queryset


def _as_date(text: str):
    """A date typed as 1960-12-10, 12/10/1960 or 12-10-1960, or None."""
    for layout in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"):
        try:
            return datetime.strptime(text.strip(), layout).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    return None


class Patient(models.Model):
    """A person the pharmacy dispenses to, with what a pharmacist needs to know about them.

    ``no_known_allergies`` records that the patient was asked and has none, which is not
    the same as no allergy recorded yet. A child-resistant packaging waiver is blanket
    (all prescriptions) and dated (16 CFR 1700.15; Poison Prevention Packaging Act).
    """

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNKNOWN = "U", "Unknown"

    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    preferred_language = models.CharField(max_length=40, default="English")
    no_known_allergies = models.BooleanField(default=False)
    child_resistant_waiver_on = models.DateField(
        null=True, blank=True, help_text="Date of the patient's blanket waiver, if any."
    )
    needs_review = models.BooleanField(
        default=False, help_text="Created from an incoming prescription; a technician completes it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Search keys (pharmacy.patient_keys.patient_search_values), written by the patient
    # services with the names and phone they are made from.
    search_last_name = models.CharField(max_length=100, blank=True, editable=False)
    search_first_name = models.CharField(max_length=100, blank=True, editable=False)
    search_name_words = ArrayField(
        models.CharField(max_length=100), default=list, blank=True, editable=False
    )
    search_phone = models.CharField(max_length=10, blank=True, editable=False)
    # A record merged into another (the survivor) is kept, never deleted, and takes no
    # new work (orders.services.patient_merge.merge_patients).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_records"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    merged_by = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "date_of_birth"]
        permissions = [("merge_patient", "Can merge two records of one patient")]
        indexes = [
            models.Index(fields=["last_name", "date_of_birth"], name="patient_name_dob_idx"),
            # Intake matches an incoming patient by birth date with any similar name.
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
            # Prefix searches (LIKE 'key%') use a pattern index whatever the collation.
            models.Index(
                fields=["search_last_name"],
                name="patient_search_last_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["search_first_name"],
                name="patient_search_first_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            GinIndex(fields=["search_name_words"], name="patient_search_words_idx"),
            models.Index(fields=["search_phone"], name="patient_search_phone_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | Q(merged_into__isnull=False, merged_at__isnull=False),
                name="patient_merged_into_with_date",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("pk")), name="patient_not_merged_into_itself"
            ),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.middle_name, self.last_name]))

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def default_shipping_address(self) -> "PatientAddress | None":
        return next((a for a in self.addresses.all() if a.is_default_shipping), None)


class PatientAddress(models.Model):
    """A postal address of a patient; at most one is the default shipping address."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(max_length=40, default="Home")
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=10)
    is_default_shipping = models.BooleanField(default=False)
    # pharmacy.patient_keys.address_key of line 1 and the ZIP: duplicate detection.
    match_key = models.CharField(max_length=220, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = ["-is_default_shipping", "id"]
        verbose_name_plural = "patient addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(is_default_shipping=True),
                name="one_default_shipping_address",
            )
        ]

    def __str__(self):
        return ", ".join(
            filter(None, [self.line1, self.line2, self.city, f"{self.state} {self.postal_code}"])
        )


class Allergy(models.Model):
    """A patient's allergy to an ingredient or to a whole pharmacologic class.

    ``allergen`` keeps what was said or sent; ``ingredient`` or ``pharmacologic_class``
    is what the drug checks match against.
    """

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        UNKNOWN = "unknown", "Unknown"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    allergen = models.CharField(max_length=255)
    ingredient = models.ForeignKey(Ingredient, null=True, blank=True, on_delete=models.PROTECT)
    pharmacologic_class = models.ForeignKey(
        PharmacologicClass, null=True, blank=True, on_delete=models.PROTECT
    )
    reaction = models.CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.UNKNOWN)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["allergen"]
        verbose_name_plural = "allergies"

    def __str__(self):
        return self.allergen


class Prescriber(models.Model):
    """A prescriber, identified by NPI; a DEA registration lists the schedules they may
    prescribe."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    credentials = models.CharField(max_length=20, blank=True, help_text="MD, DO, NP, PA ...")
    npi = models.CharField("NPI", max_length=10, unique=True, validators=[validate_npi])
    dea_number = models.CharField(
        "DEA number", max_length=9, blank=True, validators=[validate_dea_number]
    )
    dea_schedules = ArrayField(
        models.CharField(max_length=4, choices=DEASchedule.choices[1:]),
        default=list,
        blank=True,
        help_text="Schedules the DEA registration allows.",
    )
    state_license_number = models.CharField(max_length=40, blank=True)
    license_state = models.CharField(max_length=2, blank=True)
    practice_name = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    fax = models.CharField(max_length=30, blank=True)
    needs_review = models.BooleanField(
        default=False, help_text="Created from an incoming prescription; a technician completes it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}"
        return f"{name}, {self.credentials}" if self.credentials else name


class DrugInteraction(models.Model):
    """A drug-drug interaction between two ingredients, from one reference source.

    Ingredients are stored as matching keys (``pharmacy.dur.ingredient_key``: upper case,
    salt words removed, US adopted name), not as foreign keys to ``Ingredient``, so a pair
    for an ingredient the catalogue does not hold yet matches once it arrives. A pair is
    unordered: the keys are stored so that ``ingredient_a_key < ingredient_b_key``, and a
    source lists a pair once. Written by ``pharmacy.drug_checks.import_interactions``;
    ``imported_at`` changes whenever a row is written, which is how every process notices
    that its cached interaction index is stale.
    """

    class Source(models.TextChoices):
        NDFRT = "ndfrt", "VA NDF-RT"
        ONC_HIGH_PRIORITY = "onc_high_priority", "ONC high-priority list"
        ONC_NON_INTERRUPTIVE = "onc_non_interruptive", "ONC non-interruptive list"
        CURATED = "curated", "Pharmacy's curated list"
        CSV = "csv", "Imported CSV"

    # Byte-order collation: the keys are compared (a < b) the way Python sorts them,
    # whatever the database's locale.
    ingredient_a_key = models.CharField(max_length=255, db_collation="C")
    ingredient_b_key = models.CharField(max_length=255, db_collation="C")
    ingredient_a_name = models.CharField(max_length=255, help_text="As the source names it.")
    ingredient_b_name = models.CharField(max_length=255, help_text="As the source names it.")
    severity = models.CharField(max_length=16, choices=dur.Severity.choices)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=24, choices=Source.choices)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ingredient_a_key", "ingredient_b_key", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["ingredient_a_key", "ingredient_b_key", "source"],
                name="drug_interaction_pair_source_unique",
            ),
            models.CheckConstraint(
                condition=Q(ingredient_a_key__lt=models.F("ingredient_b_key")),
                name="drug_interaction_keys_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.ingredient_a_name} + {self.ingredient_b_name} ({self.severity})"


class AuxiliaryWarningRule(models.Model):
    """An auxiliary warning the Rx label prints for every product that meets all the
    criteria the rule names: a pharmacologic class (by the catalogue's name), an active
    ingredient (by its matching key, so salts match), words of the dosage form or route,
    a storage condition. Kept by pharmacists on the warning-rules page through
    ``pharmacy.services.label_warnings.save_warning_rule``, which refuses a class or
    ingredient the catalogue does not hold; read by ``orders.services.labels``.
    """

    warning = models.CharField(max_length=80, help_text="Printed on the label as written.")
    pharmacologic_class_name = models.CharField("pharmacologic class", max_length=255, blank=True)
    ingredient_name = models.CharField("active ingredient", max_length=255, blank=True)
    ingredient_key = models.CharField(max_length=255, blank=True, editable=False)
    dosage_form = models.CharField(
        max_length=60, blank=True, help_text="Words the dosage form contains (SUSPENSION)."
    )
    route = models.CharField(max_length=60, blank=True, help_text="Words the route contains.")
    storage = models.CharField(max_length=12, choices=Storage.choices, blank=True)
    position = models.PositiveSmallIntegerField(
        default=100, help_text="Warnings print in this order, lowest first."
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            # A rule without a criterion would print its warning on every label.
            models.CheckConstraint(
                condition=~Q(pharmacologic_class_name="")
                | ~Q(ingredient_key="")
                | ~Q(dosage_form="")
                | ~Q(route="")
                | ~Q(storage=""),
                name="warning_rule_has_a_criterion",
            )
        ]

    def __str__(self):
        return self.warning


# ICD-10-CM: a letter, two characters (digit, then digit or letter), and after a dot up to
# four more (E11.9, I10, S72.001A, U07.1). Stored upper case with the dot.
ICD10_CODE_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"


class Condition(models.Model):
    """A medical condition of a patient (diabetes, CKD stage 3, pregnancy), as the
    pharmacist needs it to judge a prescription; optionally coded in ICD-10-CM.

    ``noted_on`` is when the pharmacy learned of it (from the patient, the prescriber or
    a prescription), not the date of diagnosis.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="conditions")
    name = models.CharField(max_length=200)
    icd10_code = models.CharField(
        "ICD-10 code",
        max_length=8,
        blank=True,
        validators=[
            RegexValidator(
                ICD10_CODE_PATTERN,
                "An ICD-10 code looks like E11.9: a letter, two "
                "characters, and up to four more after a dot.",
            )
        ],
    )
    noted_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        "pharmacy.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(icd10_code="") | Q(icd10_code__regex=ICD10_CODE_PATTERN),
                name="condition_icd10_code_format",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.icd10_code})" if self.icd10_code else self.name
