"""Deliverers of the inventory app's side effects (``outbox``): what a worker does with an
``inventory.*`` row recorded in the transaction of a stock change.

- ``inventory.reorder_email`` (``reorder.record_reorder_alert_email``, one per alert):
  e-mail the reorder alert to the managers. Idempotent where it lands: the alert's
  ``email_sent_at`` is set once it went out, and a second delivery sends nothing; the
  one possible resend (a worker that died between the mail server's acceptance and that
  write) carries the same Message-ID.
"""

from inventory.models import ReorderAlert
from inventory.services import reorder
from outbox.models import OutboxMessage
from outbox.registry import PermanentFailure, delivers


@delivers(reorder.REORDER_EMAIL_EFFECT)
def deliver_reorder_email(message: OutboxMessage) -> None:
    """Send the alert's e-mail (``reorder.send_reorder_alert_email``); an alert closed
    before it went out is nothing to do. A mail server that fails raises, and the outbox
    tries again later. Raises PermanentFailure when the alert is gone."""
    alert = ReorderAlert.objects.filter(pk=message.target_id).first()
    if alert is None:
        raise PermanentFailure(f"Reorder alert {message.target_id} does not exist.")
    reorder.send_reorder_alert_email(alert)
