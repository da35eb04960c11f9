"""The patient's e-mail when the package is handed over: its tracking number, no drug
name anywhere, sent once (a conditional UPDATE claims ``patient_notified_at``; a failed
send releases the claim for the retry)."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from lib.queueing import send_task_fast
from shipping.models import Shipment


def _queue_patient_email(shipment: Shipment) -> None:
    """After commit, queue the e-mail task; a broker failure is logged, never raised."""
    from shipping.tasks import send_shipment_email_task  # noqa: PLC0415 (tasks import us)

    shipment_id = shipment.pk
    transaction.on_commit(lambda: send_task_fast(send_shipment_email_task, (shipment_id,)))


def notify_patient_of_shipment(shipment: Shipment) -> bool:
    """E-mail the patient that the package is on its way, with its tracking number (no
    drug name, in the subject or anywhere). Sent once: a conditional UPDATE claims
    ``patient_notified_at``; a failed send releases it and raises (the task retries).
    Returns False when nothing was sent (not handed over, no e-mail address, sent)."""
    shipment = Shipment.objects.select_related("order__patient").get(pk=shipment.pk)
    patient = shipment.order.patient
    if shipment.handed_over_at is None or not patient.email:
        return False
    now = timezone.now()
    claimed = Shipment.objects.filter(pk=shipment.pk, patient_notified_at__isnull=True).update(
        patient_notified_at=now
    )
    if not claimed:
        return False
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
    try:
        send_mail(
            subject=f"Your order from {settings.PHARMACY_NAME} has shipped",
            message="\n".join(lines),
            from_email=None,
            recipient_list=[patient.email],
        )
    except Exception:
        Shipment.objects.filter(pk=shipment.pk, patient_notified_at=now).update(
            patient_notified_at=None
        )
        raise
    return True
