"""``POST /api/v1/fills/{id}/pdmp-check/``: a pharmacist records the state
prescription-monitoring (PDMP) check of a controlled-substance fill at PV1, which
``POST .../pv1/`` then requires. Kept apart from ``orders.api.views`` for its size."""

from orders.api.serializers import PdmpCheckInputSerializer
from orders.api.views import _FillStepView
from orders.services.workflow import record_pdmp_check


class FillPdmpCheckView(_FillStepView):
    """Record the PDMP check of a controlled-substance fill waiting for PV1: the state, the
    result (``no_concerns``, ``concerns_resolved``, ``concerns_unresolved``), the program's
    report number and a note (required when concerns were found). Answers with the fill,
    its ``pdmp_checks`` newest first. 400 for a fill that is not controlled or bad input;
    409 when the fill is not at PV1 or someone else claimed it."""

    serializer_class = PdmpCheckInputSerializer
    required_permissions = ["pharmacy.verify_prescriptions"]

    def take_step(self, fill, data, user) -> str:
        check = record_pdmp_check(fill, by=user, **data)
        return f"PDMP check recorded: {check.get_result_display().lower()}"
