"""The patient's e-mail when the package is handed over: its tracking number, no drug
name anywhere, through the outbox.

The hand-over records it (``shipping.shipped_email``, one per shipment ever: its dedupe
key) in its own transaction, so a broker down at that moment only delays it. A worker
sends it, then writes ``patient_notified_at``: the time it was sent, never a claim made
before. A worker that dies between the two leaves the message to be delivered again,
which sends the e-mail again with the same Message-ID (made from the outbox message):
SMTP cannot be exactly-once, and mail programs show one e-mail per Message-ID.
"""

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from outbox.models import OutboxMessage
from outbox.services import record_side_effect
from shipping.models import Shipment

SHIPPED_EMAIL = "shipping.shipped_email"


def _record_patient_email(shipment: Shipment) -> None:
    """In the hand-over's transaction: the e-mail to send once it commits (patients
    without an e-mail address get none)."""
    if not shipment.order.patient.email:
        return
    record_side_effect(
        SHIPPED_EMAIL,
        target_id=shipment.pk,
        description=f"Shipped e-mail of package {shipment.package_code}",
        dedupe_key=f"{SHIPPED_EMAIL}:{shipment.pk}",
    )


def shipped_email_message_id(message: OutboxMessage) -> str:
    """The e-mail's Message-ID, the same at every delivery of the outbox message."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return (
        f"<shipped-{message.target_id}.outbox-{message.pk}."
        f"{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    )


def _shipped_email(shipment: Shipment, *, message_id: str) -> EmailMessage:
    patient = shipment.order.patient
    lines = [
        f"Hello {patient.first_name},",
        "",
        f"Your package {shipment.package_code} from {settings.PHARMACY_NAME} is on its way "
        f"with {shipment.get_carrier_display()}.",
        f"Tracking number: {shipment.tracking_number}",
    ]
    if shipment.signature_required:
        lines.append("Someone must sign for it on delivery.")
    if shipment.is_cold_chain:
        lines.append("It holds refrigerated items: put them in the refrigerator when it arrives.")
    lines += [
        "",
        f"Questions? Call us at {settings.PHARMACY_PHONE}.",
        "",
        settings.PHARMACY_NAME,
    ]
    return EmailMessage(
        subject=f"Your order from {settings.PHARMACY_NAME} has shipped",
        body="\n".join(lines),
        to=[patient.email],
        headers={"Message-ID": message_id},
    )


def notify_patient_of_shipment(shipment: Shipment, *, message_id: str) -> bool:
    """E-mail the patient that the package is on its way, with its tracking number (no
    drug name, in the subject or anywhere), under ``message_id``; then record the time
    it was sent (``patient_notified_at``). What the outbox's ``shipping.shipped_email``
    delivers. Returns False when nothing was sent: not handed over, no e-mail address,
    or sent already. A mail server's failure is raised (the outbox tries again) and
    leaves nothing recorded."""
    shipment = Shipment.objects.select_related("order__patient").get(pk=shipment.pk)
    if (
        shipment.handed_over_at is None
        or shipment.patient_notified_at is not None
        or not shipment.order.patient.email
    ):
        return False
    _shipped_email(shipment, message_id=message_id).send()
    Shipment.objects.filter(pk=shipment.pk, patient_notified_at__isnull=True).update(
        patient_notified_at=timezone.now()
    )
    return True
