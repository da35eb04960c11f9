"""What the orders pages share: the permissions that open them and how a quantity reads."""

TECHNICIAN_WORK = "pharmacy.work_technician_queues"
VERIFY_WORK = "pharmacy.verify_prescriptions"


def _quantity_words(quantity, unit: str) -> str:
    """``30 capsules``, ``1 capsule``, ``150 mL``."""
    text = f"{quantity.normalize():f}"
    if unit in ("tablet", "capsule") and quantity != 1:
        unit = f"{unit}s"
    return f"{text} {unit}"
