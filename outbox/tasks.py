"""Celery tasks of the outbox: thin wrappers that take ids and call a service."""

from celery import shared_task

from outbox import services


@shared_task(ignore_result=True)
def deliver_side_effect_task(message_id: int) -> bool:
    """Deliver one side effect (queued when its transaction committed)."""
    return services.deliver_side_effect(message_id)


@shared_task(ignore_result=True)
def deliver_due_side_effects_task() -> int:
    """Every few seconds (beat): deliver what is due and was not delivered on its own."""
    return services.deliver_due_side_effects()
