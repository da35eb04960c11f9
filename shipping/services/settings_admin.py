"""The packaging rules as data a manager changes: the rules row, the carrier service levels
and the carrier holiday calendar (read by ``shipping.services.rules.packaging_plan``).

Each write is one function: it checks the actor may change shipping settings, validates
the values the way the model does (``full_clean``), and saves only the fields given, in
one transaction. Nothing is audited (no patient data), but the rules row keeps who
changed it last. Refusals raise ``ShippingError`` (400 for a bad value, 403 for a role
that does not keep the settings); nothing is saved then.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from pharmacy.models import User
from shipping.models import Carrier, CarrierHoliday, CarrierService, ShippingRules
from shipping.services.shipments import ShippingError

# carrier, code, name, transit days, delivers Saturday, cold chain, controlled: the service
# levels a fresh pharmacy starts with (the built-in local courier, and the EasyPost
# services the adapter buys when EASYPOST_API_KEY is set).
DEFAULT_CARRIER_SERVICES = [
    (Carrier.LOCAL, "OVERNIGHT", "Courier overnight", 1, True, True, True),
    (Carrier.LOCAL, "TWO_DAY", "Courier 2-day", 2, False, True, True),
    (Carrier.LOCAL, "GROUND", "Ground 3-day", 3, False, False, True),
    # EasyPost names a service by the carrier's own code; the carrier is in the code here
    # ("USPS:Priority") because EasyPost's rates are per carrier account.
    (Carrier.EASYPOST, "USPS:Express", "USPS Priority Mail Express", 1, True, True, True),
    (Carrier.EASYPOST, "USPS:Priority", "USPS Priority Mail", 2, False, False, True),
    (Carrier.EASYPOST, "UPS:NextDayAir", "UPS Next Day Air", 1, True, True, True),
    (Carrier.EASYPOST, "UPS:2ndDayAir", "UPS 2nd Day Air", 2, False, True, True),
    (Carrier.EASYPOST, "UPS:Ground", "UPS Ground", 3, False, False, False),
    (
        Carrier.EASYPOST,
        "FedEx:PRIORITY_OVERNIGHT",
        "FedEx Priority Overnight",
        1,
        False,
        True,
        True,
    ),
    (Carrier.EASYPOST, "FedEx:FEDEX_2_DAY", "FedEx 2Day", 2, False, True, True),
]


def ensure_shipping_defaults() -> None:
    """Create the rules row (pk 1) when missing, and the default carrier services when
    there are none at all (a manager deactivates a service rather than deleting it).
    Runs after every ``migrate`` and test-database flush (``shipping/apps.py``)."""
    ShippingRules.objects.get_or_create(pk=1)
    if CarrierService.objects.exists():
        return
    CarrierService.objects.bulk_create(
        CarrierService(
            carrier=carrier, code=code, name=name, transit_days=days,
            delivers_saturday=saturday, allows_cold_chain=cold, allows_controlled=controlled,
            offers_signature=True,
        )
        for carrier, code, name, days, saturday, cold, controlled in DEFAULT_CARRIER_SERVICES
    )  # fmt: skip


RULE_FIELDS = frozenset(
    {
        "cold_chain_max_transit_days",
        "cold_packs_per_transit_day",
        "cold_packs_minimum",
        "controlled_requires_signature",
        "controlled_plain_packaging",
        "no_weekend_transit_for_cold_chain",
    }
)
SERVICE_FIELDS = frozenset(
    {
        "name",
        "transit_days",
        "delivers_saturday",
        "allows_cold_chain",
        "allows_controlled",
        "offers_signature",
        "is_active",
    }
)
# Sanity bounds the model cannot say: a parcel is not weeks in transit, nor packed with
# dozens of cold packs. A value outside is a typing error, not a policy.
MAX_TRANSIT_DAYS = 10
MAX_COLD_PACKS = 20


def _refuse_unless_allowed(by: User, permission: str, what: str) -> None:
    """The settings are a manager's (pharmacy/roles.py gives the permissions)."""
    if not by.has_perm(permission):
        raise ShippingError(
            "role_not_allowed", f"A {by.role_label.lower()} cannot {what}.", status=403
        )


def _refuse_unknown(fields: dict, allowed: frozenset, what: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ShippingError(
            "unknown_field", f"{what} have no setting {', '.join(unknown)}.", status=400
        )


def _validate(instance, fields: list[str]) -> None:
    """The model's own validation of the changed fields, as one plain sentence."""
    try:
        instance.full_clean(
            exclude=[f.name for f in instance._meta.fields if f.name not in fields],
            validate_unique=False,  # the write itself keeps one row per key
            validate_constraints=False,
        )
    except ValidationError as error:
        messages = [
            f"{instance._meta.get_field(name).verbose_name}: {' '.join(problems)}"
            if name != "__all__"
            else " ".join(problems)
            for name, problems in error.message_dict.items()
        ]
        raise ShippingError("invalid_setting", " ".join(messages), status=400) from error


def _at_most(value: int, limit: int, what: str) -> None:
    if value > limit:
        raise ShippingError("invalid_setting", f"{what} is at most {limit}.", status=400)


def shipping_rules() -> ShippingRules:
    """The manager's rules row (pk 1, made by the migration; made again if removed)."""
    rules, _created = ShippingRules.objects.get_or_create(pk=1)
    return rules


def update_shipping_rules(rules: ShippingRules, *, by: User, **fields) -> ShippingRules:
    """Change the packaging rules (the fields given), recording who changed them. Locks
    the rules row. Raises ShippingError: a role that does not keep the settings (403), an
    unknown field or a value out of bounds (400)."""
    _refuse_unless_allowed(by, "shipping.change_shippingrules", "change the packaging rules")
    _refuse_unknown(fields, RULE_FIELDS, "The packaging rules")
    for name in ("cold_packs_per_transit_day", "cold_packs_minimum"):
        if name in fields:
            _at_most(fields[name], MAX_COLD_PACKS, "The number of cold packs")
    if "cold_chain_max_transit_days" in fields:
        _at_most(fields["cold_chain_max_transit_days"], MAX_TRANSIT_DAYS, "Days in transit")
        if fields["cold_chain_max_transit_days"] < 1:
            raise ShippingError(
                "invalid_setting",
                "Refrigerated items need at least 1 day in transit allowed.",
                status=400,
            )
    with transaction.atomic():
        rules = ShippingRules.objects.select_for_update().get(pk=rules.pk)
        for name, value in fields.items():
            setattr(rules, name, value)
        _validate(rules, list(fields))
        rules.updated_by = by
        rules.save(update_fields=[*fields, "updated_by", "updated_at"])
    return rules


def update_carrier_service(service: CarrierService, *, by: User, **fields) -> CarrierService:
    """Change a carrier service level (name, transit days, what it may carry, whether it
    is offered). Locks its row. Raises ShippingError: a role that does not keep the
    settings (403), an unknown field or a value out of bounds (400)."""
    _refuse_unless_allowed(by, "shipping.change_carrierservice", "change carrier services")
    _refuse_unknown(fields, SERVICE_FIELDS, "Carrier services")
    if "transit_days" in fields:
        _at_most(fields["transit_days"], MAX_TRANSIT_DAYS, "Days in transit")
        if fields["transit_days"] < 1:
            raise ShippingError(
                "invalid_setting", "A service takes at least 1 day in transit.", status=400
            )
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    with transaction.atomic():
        service = CarrierService.objects.select_for_update().get(pk=service.pk)
        for name, value in fields.items():
            setattr(service, name, value)
        _validate(service, list(fields))
        if fields:
            service.save(update_fields=list(fields))
    return service


def set_carrier_holiday(day: date, *, carrier: str = "", name: str, by: User) -> CarrierHoliday:
    """Record a day ``carrier`` (every carrier when blank) does not move packages, or
    rename the one recorded. Raises ShippingError: a role that does not keep the settings
    (403), an unknown carrier or a blank name (400)."""
    _refuse_unless_allowed(by, "shipping.add_carrierholiday", "change the carrier holidays")
    if carrier and carrier not in Carrier.values:
        raise ShippingError("unknown_carrier", f"No such carrier: {carrier}.", status=400)
    name = name.strip()
    if not name:
        raise ShippingError("invalid_setting", "Name the holiday.", status=400)
    holiday = CarrierHoliday(day=day, carrier=carrier, name=name)
    _validate(holiday, ["day", "carrier", "name"])
    # update_or_create locks the row, and retries the read when another manager records
    # the same day at the same moment: one row per day and carrier, the last name kept.
    holiday, _created = CarrierHoliday.objects.update_or_create(
        day=day, carrier=carrier, defaults={"name": name}
    )
    return holiday


def remove_carrier_holiday(holiday: CarrierHoliday, *, by: User) -> None:
    """The carriers work that day after all. Raises ShippingError (403) for a role that
    does not keep the settings; removing one already removed changes nothing."""
    _refuse_unless_allowed(by, "shipping.delete_carrierholiday", "change the carrier holidays")
    CarrierHoliday.objects.filter(pk=holiday.pk).delete()
