"""Refill requests: ``POST /api/v1/refill-requests/`` (DESIGN.md section 6), with the
option to schedule a refill asked for too soon for its first eligible date or a later
one (``orders.services.intake.scheduled_refills``)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from inventory.api.serializers import ErrorSerializer
from lib.api_errors import APIError
from orders.api.serializers import (
    RefillRequestSerializer,
    RefillResponseSerializer,
    ScheduledRefillResponseSerializer,
)
from orders.services.intake import RefillRefused, request_refill, schedule_refill


class RefillRequestView(generics.GenericAPIView):
    """A patient's refill request (patient portal, phone system): Rx number and date of
    birth. A wrong date of birth answers 404 like an unknown Rx number. A refill asked
    for too soon may be scheduled instead (``schedule_if_too_soon`` or ``fill_on``)."""

    serializer_class = RefillRequestSerializer
    required_permissions = ["pharmacy.work_technician_queues"]
    throttle_scope = "refill_request"

    @extend_schema(
        request=RefillRequestSerializer,
        responses={
            201: RefillResponseSerializer,
            202: OpenApiResponse(
                ScheduledRefillResponseSerializer,
                description="Scheduled: the refill enters the fill queue on fill_on.",
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Bad input, or a date refused: date_in_past, before_eligible, "
                "after_expiry, due_now.",
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such Rx for that birth date."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Refused: no_refills_left, too_soon, expired, cancelled, "
                "not_active, already_in_progress or already_scheduled.",
            ),
        },
    )
    def post(self, request):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            if data.get("fill_on") is not None:
                return self._scheduled(request, data, fill_on=data["fill_on"])
            try:
                fill = request_refill(
                    data["rx_number"], date_of_birth=data["date_of_birth"], by=request.user
                )
            except RefillRefused as refused:
                if refused.code != "too_soon" or not data["schedule_if_too_soon"]:
                    raise
                return self._scheduled(request, data, fill_on=None)
        except RefillRefused as refused:
            raise APIError(refused.code, refused.detail, refused.status_code) from None
        body = RefillResponseSerializer({"fill": fill, "prescription": fill.prescription_id}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _scheduled(self, request, data, *, fill_on) -> Response:
        scheduled = schedule_refill(
            data["rx_number"],
            date_of_birth=data["date_of_birth"],
            fill_on=fill_on,
            by=request.user,
        )
        body = ScheduledRefillResponseSerializer({"scheduled_refill": scheduled}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
