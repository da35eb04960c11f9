"""Carriers: buying a label (a tracking number) and reading their tracking webhooks.

Two carriers implement one small interface:

* ``LocalCarrier`` (``local``), built in, for in-house and local courier delivery. It
  needs no network: its tracking number is ``LCL`` + the shipment id in 11 digits + a
  Luhn check digit, so buying twice gives the same number and a typo in a webhook is
  caught before any lookup. Its webhook secret is ``LOCAL_CARRIER_WEBHOOK_SECRET``.
* ``EasyPostCarrier`` (``easypost``), through EasyPost's official Python client, offered
  only when ``EASYPOST_API_KEY`` is set (``EASYPOST_API_BASE`` points it elsewhere, for
  tests against recorded responses). Its webhooks carry EasyPost ``Event`` objects.

A purchase may be repeated: the outbox delivers it again when a worker died after the
carrier answered and before our row was updated. The local carrier's number is a function
of the shipment. EasyPost takes no idempotency key, so its purchase is two steps with its
shipment id kept in between (``remember``): an EasyPost shipment made and not bought
costs nothing, and a purchase repeated once the id is kept asks EasyPost first whether
that shipment was bought already.

Every webhook is authenticated the same way (DESIGN.md section 6): the hex HMAC-SHA256 of
the raw body with the carrier's secret in ``X-Signature``. EasyPost itself sends
``X-Hmac-Signature: hmac-sha256-hex=<hex>`` of the same digest (with the secret in Unicode
NFKD form); the webhook view passes that header when ``X-Signature`` is absent.
"""

import hashlib
import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime

from shipping.models import Carrier

logger = logging.getLogger(__name__)

# The statuses of the contract's local webhook; EasyPost's are mapped onto them.
# ``info`` is a carrier event kept on record that moves nothing (EasyPost's pre_transit).
TRACKING_STATUSES = ("in_transit", "out_for_delivery", "delivered", "exception", "returned")
INFO = "info"
MAX_EVENT_ID = 100
MAX_TRACKING_NUMBER = 40
MAX_WEBHOOK_BYTES = 64 * 1024


@dataclass(frozen=True)
class PurchasedLabel:
    """What a carrier answered when the label was bought."""

    tracking_number: str
    carrier_shipment_id: str = ""
    label_url: str = ""  # the carrier's own label image, when it makes one


@dataclass(frozen=True)
class TrackingUpdate:
    """A webhook's tracking event, read and checked."""

    event_id: str
    tracking_number: str
    status: str  # one of TRACKING_STATUSES, or INFO
    occurred_at: datetime
    detail: str = ""


class CarrierError(Exception):
    """The carrier refused or did not answer; ``detail`` is a sentence for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class EventRejected(Exception):
    """A webhook body that is not a tracking event we can read (after the signature
    passed): 400 malformed, 422 well-formed but impossible."""

    def __init__(self, code: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def luhn_check_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit to append to ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: these become the odd positions once appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class BaseCarrier:
    code: str = ""
    name: str = ""

    def is_configured(self) -> bool:
        return True

    def webhook_secret(self) -> str:
        raise NotImplementedError

    def buy_label(self, shipment, *, remember: Callable[[str], None]) -> PurchasedLabel:
        """Buy the label of a packed shipment (its service, weight and addresses set), or
        return the one bought for it before: never two labels for one purchase.

        A carrier that makes an object of its own before it sells the label calls
        ``remember(carrier_shipment_id)`` in between; the caller keeps the id on the
        shipment (``carrier_shipment_id``), where a repeated purchase finds it. Raises
        CarrierError."""
        raise NotImplementedError

    def is_tracking_number(self, text: str) -> bool:
        return 0 < len(text) <= MAX_TRACKING_NUMBER

    def verify_signature(self, body: bytes, signature: str) -> bool:
        """``signature`` (the X-Signature header) is the hex HMAC-SHA256 of the body with
        the carrier's secret, compared in constant time. No secret configured: nothing
        passes."""
        secret = self.webhook_secret()
        given = (signature or "").strip().lower()
        if not secret or not given:
            return False
        return hmac.compare_digest(given.encode(), hmac_hex(secret, body).encode())

    def parse_event(self, body: bytes) -> TrackingUpdate | None:
        """Read a signed webhook body; None for an event that is not about tracking.
        Raises EventRejected."""
        raise NotImplementedError


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EventRejected("malformed_json", "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise EventRejected("malformed_event", "The body must be a JSON object.")
    return data


def _text(data: dict, key: str, *, required: bool = True, limit: int = 255) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise EventRejected("malformed_event", f"{key} must be a non-empty string.")
    value = value.strip()
    if len(value) > limit:
        if key == "detail":
            return value[:limit]
        raise EventRejected("malformed_event", f"{key} is longer than {limit} characters.")
    return value


def _time(value, key: str) -> datetime:
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise EventRejected(
            "malformed_event", f"{key} must be an ISO 8601 time with its UTC offset."
        )
    return moment


class LocalCarrier(BaseCarrier):
    """The built-in carrier for in-house and local courier delivery: no network."""

    code = Carrier.LOCAL
    name = "Local delivery"
    PREFIX = "LCL"
    PATTERN = re.compile(r"^LCL[0-9]{12}$")

    def webhook_secret(self) -> str:
        return settings.LOCAL_CARRIER_WEBHOOK_SECRET

    @classmethod
    def tracking_number_for(cls, shipment_id: int) -> str:
        digits = f"{shipment_id:011d}"
        if len(digits) != 11:
            raise CarrierError(
                "tracking_overflow", "Shipment ids past 11 digits need a new scheme."
            )
        return f"{cls.PREFIX}{digits}{luhn_check_digit(digits)}"

    def is_tracking_number(self, text: str) -> bool:
        if not self.PATTERN.match(text):
            return False
        digits = text[len(self.PREFIX) :]
        return luhn_check_digit(digits[:-1]) == digits[-1]

    def buy_label(self, shipment, *, remember: Callable[[str], None]) -> PurchasedLabel:
        # The same number however often it is bought: nothing to remember.
        return PurchasedLabel(tracking_number=self.tracking_number_for(shipment.pk))

    def parse_event(self, body: bytes) -> TrackingUpdate:
        data = _json_object(body)
        status = data.get("status")
        if status not in TRACKING_STATUSES:
            raise EventRejected(
                "malformed_event", f"status must be one of {', '.join(TRACKING_STATUSES)}."
            )
        return TrackingUpdate(
            event_id=_text(data, "event_id", limit=MAX_EVENT_ID),
            tracking_number=_text(data, "tracking_number", limit=MAX_TRACKING_NUMBER).upper(),
            status=status,
            occurred_at=_time(data.get("occurred_at"), "occurred_at"),
            detail=_text(data, "detail", required=False),
        )


# EasyPost tracker statuses -> ours.
EASYPOST_STATUSES = {
    "pre_transit": INFO,
    "unknown": INFO,
    "cancelled": INFO,
    "in_transit": "in_transit",
    "available_for_pickup": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "return_to_sender": "returned",
    "failure": "exception",
    "error": "exception",
}
EASYPOST_TRACKER_EVENTS = {"tracker.created", "tracker.updated"}


class EasyPostCarrier(BaseCarrier):
    """Labels bought through EasyPost (any carrier account behind it). A service's code
    is ``<EasyPost carrier>:<EasyPost service>``, e.g. ``USPS:Priority``."""

    code = Carrier.EASYPOST
    name = "EasyPost"

    def is_configured(self) -> bool:
        return bool(settings.EASYPOST_API_KEY)

    def webhook_secret(self) -> str:
        return settings.EASYPOST_WEBHOOK_SECRET

    def verify_signature(self, body: bytes, signature: str) -> bool:
        """The contract's hex digest, or EasyPost's own ``hmac-sha256-hex=<hex>`` form
        (its secret normalised to Unicode NFKD, as EasyPost computes it)."""
        given = (signature or "").strip()
        prefix = "hmac-sha256-hex="
        if not given.lower().startswith(prefix):
            return super().verify_signature(body, given)
        secret = self.webhook_secret()
        if not secret:
            return False
        expected = hmac_hex(unicodedata.normalize("NFKD", secret), body)
        return hmac.compare_digest(given[len(prefix) :].lower().encode(), expected.encode())

    def _client(self):
        import easypost  # noqa: PLC0415 (only a configured EasyPost needs its client)

        return easypost.EasyPostClient(
            settings.EASYPOST_API_KEY, api_base=settings.EASYPOST_API_BASE, timeout=20
        )

    def buy_label(self, shipment, *, remember: Callable[[str], None]) -> PurchasedLabel:
        """Make an EasyPost shipment (not bought: free), ``remember`` its id, then buy the
        rate of the shipment's service. When ``shipment.carrier_shipment_id`` is kept
        already (a purchase repeated after a crash), that EasyPost shipment is read
        first: bought already, its label is returned; else its rate is bought now."""
        from easypost.errors import EasyPostError  # noqa: PLC0415

        if not self.is_configured():
            raise CarrierError("carrier_not_configured", "EasyPost has no API key configured.")
        if shipment.service is None or ":" not in shipment.service.code:
            raise CarrierError(
                "unknown_service", "The shipment's service is not an EasyPost service."
            )
        client = self._client()
        try:
            if shipment.carrier_shipment_id:
                created = client.shipment.retrieve(shipment.carrier_shipment_id)
                if getattr(created, "tracking_code", None):
                    logger.info(
                        "EasyPost shipment %s of %s was bought already: its label is kept.",
                        created.id,
                        shipment.package_code,
                    )
                    return self._purchased(created)
            else:
                created = client.shipment.create(**self._shipment_request(shipment))
            rate = self._rate(shipment, created)
            if not shipment.carrier_shipment_id:
                remember(str(created.id))
            bought = client.shipment.buy(created.id, rate={"id": rate.id})
        except EasyPostError as error:
            logger.warning("EasyPost refused a label for %s: %s", shipment.package_code, error)
            raise CarrierError(
                "carrier_refused", f"EasyPost did not sell the label: {error}"
            ) from None
        return self._purchased(bought)

    def _shipment_request(self, shipment) -> dict:
        ship_from = settings.SHIP_FROM
        options = {"label_format": "PDF", "label_size": "4x6"}
        if shipment.signature_required:
            options["delivery_confirmation"] = (
                "ADULT_SIGNATURE" if shipment.is_controlled else "SIGNATURE"
            )
        return {
            "reference": shipment.package_code,
            "to_address": {
                "name": shipment.ship_to_name,
                "street1": shipment.ship_to_line1,
                "street2": shipment.ship_to_line2,
                "city": shipment.ship_to_city,
                "state": shipment.ship_to_state,
                "zip": shipment.ship_to_postal_code,
                "country": "US",
                "phone": shipment.ship_to_phone,
            },
            "from_address": {
                "name": ship_from["name"],
                "street1": ship_from["line1"],
                "street2": ship_from["line2"],
                "city": ship_from["city"],
                "state": ship_from["state"],
                "zip": ship_from["postal_code"],
                "country": "US",
                "phone": ship_from["phone"],
            },
            "parcel": {"weight": float(shipment.weight_oz)},
            "options": options,
        }

    @staticmethod
    def _rate(shipment, offered):
        """The rate of the shipment's service among those EasyPost offered."""
        wanted_carrier, wanted_service = shipment.service.code.split(":", 1)
        for rate in getattr(offered, "rates", None) or []:
            if rate.carrier == wanted_carrier and rate.service == wanted_service:
                return rate
        raise CarrierError(
            "no_rate",
            f"EasyPost offered no {shipment.service.name} rate for this package "
            f"(EasyPost shipment {offered.id}).",
        )

    @staticmethod
    def _purchased(bought) -> PurchasedLabel:
        if not getattr(bought, "tracking_code", None):
            raise CarrierError("no_tracking", "EasyPost answered without a tracking number.")
        label = getattr(bought, "postage_label", None)
        return PurchasedLabel(
            tracking_number=str(bought.tracking_code)[:MAX_TRACKING_NUMBER],
            carrier_shipment_id=str(bought.id),
            label_url=(getattr(label, "label_pdf_url", None) or getattr(label, "label_url", ""))
            if label
            else "",
        )

    def parse_event(self, body: bytes) -> TrackingUpdate | None:
        data = _json_object(body)
        if data.get("object") != "Event":
            raise EventRejected("malformed_event", "An EasyPost webhook carries an Event object.")
        event_id = _text(data, "id", limit=MAX_EVENT_ID)
        if data.get("description") not in EASYPOST_TRACKER_EVENTS:
            return None
        tracker = data.get("result")
        if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
            raise EventRejected("malformed_event", "A tracker event's result must be a Tracker.")
        status = EASYPOST_STATUSES.get(tracker.get("status"), INFO)
        details = tracker.get("tracking_details") or []
        last = details[-1] if details and isinstance(details[-1], dict) else {}
        occurred = last.get("datetime") or tracker.get("updated_at")
        detail = last.get("message") or tracker.get("status_detail") or ""
        return TrackingUpdate(
            event_id=event_id,
            tracking_number=_text(tracker, "tracking_code", limit=MAX_TRACKING_NUMBER),
            status=status,
            occurred_at=_time(occurred, "tracking_details.datetime"),
            detail=str(detail)[:255],
        )


CARRIERS = {Carrier.LOCAL: LocalCarrier, Carrier.EASYPOST: EasyPostCarrier}


def carrier_for(code: str) -> BaseCarrier:
    """The carrier of a code (``local``, ``easypost``). Raises KeyError for others."""
    return CARRIERS[code]()


def configured_carriers() -> list[BaseCarrier]:
    """The carriers labels may be bought from now: the local one always, EasyPost when
    its API key is set."""
    return [carrier() for carrier in CARRIERS.values() if carrier().is_configured()]
