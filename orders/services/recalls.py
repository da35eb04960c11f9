"""Who received a recalled lot: the stock ledger's dispensings with their fills and patients.

Inventory keeps the ledger and knows a dispensing only by its reference (``fill:<id>``);
this module, above inventory, names the fill, prescription and patient of each reference,
in the same single query over the ledger (``inventory.services.lots.dispensings_of``).
"""

from django.db.models import BigIntegerField, Case, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast, Concat, Substr

from inventory.services.lots import LotTrace, trace_lot
from orders.models import FILL_STOCK_REFERENCE_PREFIX, Fill


def with_recipients(dispensings: QuerySet) -> QuerySet:
    """The ledger rows of ``dispensings_of`` annotated with their fill, its status, Rx
    number, order and patient (null for references that are no fill of ours)."""
    fill_id = Case(
        When(
            reference__regex=rf"^{FILL_STOCK_REFERENCE_PREFIX}[0-9]{{1,18}}$",
            then=Cast(Substr("reference", len(FILL_STOCK_REFERENCE_PREFIX) + 1), BigIntegerField()),
        ),
        default=None,
        output_field=BigIntegerField(),
    )
    fill = Fill.objects.filter(pk=OuterRef("fill_id"))

    def of_fill(field):
        return Subquery(fill.values(field)[:1])

    # The fill's own id, not the reference's number: null when no such fill exists.
    return dispensings.annotate(fill_id=fill_id).annotate(
        fill=of_fill("pk"),
        fill_status=of_fill("status"),
        order_id=of_fill("order_id"),
        rx_number=of_fill("prescription__rx_number"),
        patient_id=of_fill("prescription__patient_id"),
        patient_name=Subquery(
            fill.annotate(
                name=Concat(
                    "prescription__patient__last_name",
                    Value(", "),
                    "prescription__patient__first_name",
                )
            ).values("name")[:1]
        ),
    )


def trace_recalled_lot(ndc: str, lot_number: str) -> LotTrace:
    """Every dispensing of a manufacturer lot with the fill and patient that received it,
    oldest first. Raises inventory.ndc.InvalidNDCError for text that is no NDC."""
    trace = trace_lot(ndc, lot_number)
    return LotTrace(lots=trace.lots, dispensings=with_recipients(trace.dispensings))
