"""The packaging rules: what box, how many cold packs, which carrier services, which day.

One pure evaluation, ``packaging_plan``, over the fills of a package and the data a
manager keeps: ``ShippingRules`` (row pk 1), the active ``CarrierService`` rows and the
``CarrierHoliday`` calendar. Nothing here writes; the shipment services store the plan on
the shipment and show its ``instructions`` to the packer.

* Refrigerated items (the fill is cold chain, or its product is stored refrigerated or
  frozen) go in an insulated box with ``max(cold_packs_minimum, cold_packs_per_transit_day
  x transit days)`` cold packs, only by services that allow cold chain and take at most
  ``cold_chain_max_transit_days``. With ``no_weekend_transit_for_cold_chain`` a package is
  never left in transit over a weekend or a carrier holiday: every day between the ship
  day and the delivery day must be one the carrier moves packages (Saturday only for a
  service that delivers on Saturdays, Sunday never), so the ship day moves forward (a
  2-day package packed on a Thursday ships on Monday).
* Controlled substances (a fill whose prescription has a DEA schedule): a plain outer box
  (``controlled_plain_packaging``) with nothing that reveals the contents, a signature on
  delivery (``controlled_requires_signature``), and only services that allow controlled
  substances (and offer a signature when one is required).
* Both: a plain insulated box.

Services come best first: for refrigerated items the fastest (fewest cold packs, least
time out of the refrigerator), otherwise the slowest allowed one (the cheapest: ground),
the built-in local carrier before an outside one on a tie.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from inventory.models import Storage
from shipping.models import Carrier, CarrierHoliday, CarrierService, Shipment, ShippingRules

# How far ahead a ship day is searched for; beyond it the plan refuses.
SEARCH_DAYS = 14
SATURDAY, SUNDAY = 5, 6
COLD_STORAGE = {Storage.REFRIGERATED, Storage.FROZEN}
CARRIER_PREFERENCE = {Carrier.LOCAL: 0, Carrier.EASYPOST: 1}


@dataclass(frozen=True)
class PackagingPlan:
    """What the rules decided for one package. ``services`` are allowed, best first, and
    ``ship_on`` is the first day the first of them may ship; ``refusals`` say why no
    service fits (the package cannot ship until a manager changes the rules or services).
    ``cold_packs`` count for the first service."""

    packaging: str
    cold_packs: int
    signature_required: bool
    services: list[CarrierService]
    ship_on: date | None
    instructions: list[str]
    refusals: list[str] = field(default_factory=list)
    is_cold_chain: bool = False
    is_controlled: bool = False
    ship_days: dict[int, date] = field(default_factory=dict)  # service id -> first ship day

    @property
    def service(self) -> CarrierService | None:
        return self.services[0] if self.services else None


def is_cold_chain_fill(fill) -> bool:
    """A refrigerated item: the fill says so, or its product is kept cold."""
    product = fill.prescription.product
    return fill.is_cold_chain or (product is not None and product.storage in COLD_STORAGE)


def is_controlled_fill(fill) -> bool:
    return bool(fill.prescription.dea_schedule)


def current_rules() -> ShippingRules:
    """The manager's rules (row pk 1, made by the migration); the defaults if it is gone."""
    return ShippingRules.objects.filter(pk=1).first() or ShippingRules(pk=1)


def holidays_by_carrier(*, start: date, end: date) -> dict[str, set[date]]:
    """Carrier code -> its holidays between start and end (a blank carrier: every one)."""
    days: dict[str, set[date]] = {code: set() for code in Carrier.values}
    for holiday in CarrierHoliday.objects.filter(day__gte=start, day__lte=end):
        for code in [holiday.carrier] if holiday.carrier else Carrier.values:
            days.setdefault(code, set()).add(holiday.day)
    return days


def is_pickup_day(day: date, holidays: set[date]) -> bool:
    """Carriers collect from the pharmacy Monday to Friday, holidays excepted."""
    return day.weekday() < SATURDAY and day not in holidays


def _moves_on(day: date, service: CarrierService, holidays: set[date]) -> bool:
    """The carrier moves (and delivers) packages that day: never on Sundays or holidays,
    on Saturdays only for a service that delivers then."""
    if day in holidays or day.weekday() == SUNDAY:
        return False
    return day.weekday() != SATURDAY or service.delivers_saturday


def stays_moving(ship_on: date, service: CarrierService, holidays: set[date]) -> bool:
    """Every day from the day after shipping to delivery is one the carrier moves the
    package: it never waits in a depot over a weekend or holiday."""
    return all(
        _moves_on(ship_on + timedelta(days=n), service, holidays)
        for n in range(1, service.transit_days + 1)
    )


def first_ship_day(
    service: CarrierService, *, today: date, holidays: set[date], cold_chain: bool
) -> date | None:
    """The first pickup day from today on that this service may ship on (for refrigerated
    items, one that never leaves the package in transit over a weekend or holiday); None
    when there is none within SEARCH_DAYS."""
    for offset in range(SEARCH_DAYS):
        day = today + timedelta(days=offset)
        if not is_pickup_day(day, holidays):
            continue
        if cold_chain and not stays_moving(day, service, holidays):
            continue
        return day
    return None


def cold_packs_for(rules: ShippingRules, transit_days: int) -> int:
    return max(rules.cold_packs_minimum, rules.cold_packs_per_transit_day * transit_days)


def _packaging(*, cold: bool, plain: bool) -> str:
    if cold and plain:
        return Shipment.Packaging.INSULATED_PLAIN
    if cold:
        return Shipment.Packaging.INSULATED
    if plain:
        return Shipment.Packaging.PLAIN
    return Shipment.Packaging.STANDARD


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _day(day: date) -> str:
    return f"{day:%A} {day.isoformat()}"


def packaging_plan(
    fills: Iterable,
    *,
    today: date,
    carriers: Iterable[str] | None = None,
    rules: ShippingRules | None = None,
) -> PackagingPlan:
    """The packaging, cold packs, signature, allowed services (best first), ship day and
    packer's instructions for a package holding ``fills`` (read them with
    ``select_related("prescription__product")``), as of ``today``.

    ``carriers`` limits the services to those carriers (the configured ones; all when
    None); ``rules`` defaults to the manager's row. Reads only; raises nothing: when no
    service fits, ``refusals`` says why and ``services`` is empty.
    """
    fills = list(fills)
    rules = rules or current_rules()
    cold = any(is_cold_chain_fill(fill) for fill in fills)
    controlled = any(is_controlled_fill(fill) for fill in fills)
    signature = controlled and rules.controlled_requires_signature
    plain = controlled and rules.controlled_plain_packaging

    services = CarrierService.objects.filter(is_active=True)
    if carriers is not None:
        services = services.filter(carrier__in=list(carriers))
    candidates = list(services)
    refusals: list[str] = []
    if cold:
        candidates = [
            s
            for s in candidates
            if s.allows_cold_chain and s.transit_days <= rules.cold_chain_max_transit_days
        ]
        if not candidates:
            refusals.append(
                "No active carrier service carries refrigerated items in at most "
                f"{_plural(rules.cold_chain_max_transit_days, 'day')} in transit."
            )
    if controlled:
        candidates = [
            s for s in candidates if s.allows_controlled and (s.offers_signature or not signature)
        ]
        if not candidates and not refusals:
            refusals.append(
                "No active carrier service allows controlled substances"
                + (" with a signature on delivery." if signature else ".")
            )

    if not candidates and not refusals:
        refusals.append("No active service of a configured carrier can take this package.")

    holidays = holidays_by_carrier(start=today, end=today + timedelta(days=SEARCH_DAYS + 7))
    ship_days: dict[int, date] = {}
    for service in candidates:
        day = first_ship_day(
            service,
            today=today,
            holidays=holidays.get(service.carrier, set()),
            cold_chain=cold and rules.no_weekend_transit_for_cold_chain,
        )
        if day is not None:
            ship_days[service.pk] = day
    if candidates and not ship_days:
        refusals.append(
            f"No allowed service can ship in the next {SEARCH_DAYS} days without leaving the "
            "package in transit over a weekend or a carrier holiday."
        )

    def best_first(service: CarrierService):
        speed = service.transit_days if cold else -service.transit_days
        preference = CARRIER_PREFERENCE.get(service.carrier, 9)
        return (ship_days[service.pk], speed, preference, service.code)

    allowed = sorted((s for s in candidates if s.pk in ship_days), key=best_first)
    best = allowed[0] if allowed else None
    ship_on = ship_days[best.pk] if best else None
    transit = best.transit_days if best else rules.cold_chain_max_transit_days
    cold_packs = cold_packs_for(rules, transit) if cold else 0
    packaging = _packaging(cold=cold, plain=plain)

    instructions = _instructions(
        packaging=packaging,
        cold_packs=cold_packs,
        transit_days=transit,
        signature=signature,
        controlled=controlled,
        best=best,
        ship_on=ship_on,
        today=today,
        vials=len(fills),
        cold_rule=cold and rules.no_weekend_transit_for_cold_chain,
    )
    return PackagingPlan(
        packaging=packaging,
        cold_packs=cold_packs,
        signature_required=signature,
        services=allowed,
        ship_on=ship_on,
        instructions=instructions + [f"Cannot ship: {refusal}" for refusal in refusals],
        refusals=refusals,
        is_cold_chain=cold,
        is_controlled=controlled,
        ship_days=ship_days,
    )


def _instructions(
    *,
    packaging: str,
    cold_packs: int,
    transit_days: int,
    signature: bool,
    controlled: bool,
    best: CarrierService | None,
    ship_on: date | None,
    today: date,
    vials: int,
    cold_rule: bool,
) -> list[str]:
    """The plan in plain sentences, in the order the packer works."""
    cold_box = (
        f"with {_plural(cold_packs, 'cold pack')} ({_plural(transit_days, 'day')} in transit)"
    )
    hidden = "no pharmacy name, logo or drug name may show on the outside"
    first = {
        Shipment.Packaging.STANDARD: "Use a standard padded mailer.",
        Shipment.Packaging.PLAIN: f"Use a plain outer box: {hidden} (controlled substance).",
        Shipment.Packaging.INSULATED: f"Use an insulated box {cold_box}.",
        Shipment.Packaging.INSULATED_PLAIN: (
            f"Use a plain insulated box {cold_box}: {hidden} (controlled substance)."
        ),
    }[packaging]
    sentences = [first]
    if controlled and packaging == Shipment.Packaging.STANDARD:
        sentences.append("Controlled substance: keep the package sealed and within sight.")
    if cold_packs:
        sentences.append(
            "Take the refrigerated items out of the refrigerator only when the box is ready, "
            "and close it at once."
        )
    if cold_rule and best is not None and ship_on is not None:
        when = "today" if ship_on == today else f"on {_day(ship_on)}"
        sentences.append(
            f"Ship {when} by {best.name}: the package must never sit in transit over a "
            "weekend or a carrier holiday."
        )
    if signature:
        sentences.append("A signature is required on delivery: the label carries the mark.")
    sentences.append(
        f"Scan the packing slip, then every vial's label ({_plural(vials, 'vial')}); put the "
        "packing slip inside the package."
    )
    return sentences
