"""API views of the pharmacy app. Every read of patient data writes one audit row."""

from datetime import date

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from pharmacy.api.errors import APIError
from pharmacy.api.serializers import PatientSerializer
from pharmacy.models import AuditEvent, Patient
from pharmacy.services import record_audit_event

PATIENT_PREFETCH = ("allergies__ingredient", "allergies__pharmacologic_class", "addresses")


@extend_schema(
    parameters=[
        OpenApiParameter("last_name", str, description="Exact last name, any case"),
        OpenApiParameter("date_of_birth", str, description="YYYY-MM-DD"),
    ]
)
class PatientListView(generics.ListAPIView):
    """Patients by last name and date of birth, with their allergies."""

    serializer_class = PatientSerializer
    required_permissions = ["pharmacy.view_patient"]

    def get_queryset(self):
        patients = Patient.objects.prefetch_related(*PATIENT_PREFETCH)
        last_name = self.request.query_params.get("last_name", "").strip()
        date_of_birth = self.request.query_params.get("date_of_birth", "").strip()
        if last_name:
            patients = patients.filter(last_name__iexact=last_name)
        if date_of_birth:
            try:
                patients = patients.filter(date_of_birth=date.fromisoformat(date_of_birth))
            except ValueError:
                raise APIError(
                    "invalid_date", "date_of_birth must be a date as YYYY-MM-DD."
                ) from None
        return patients

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        shown = [Patient(pk=row["id"]) for row in response.data["results"]]
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=shown,
            summary=f"API patient search ({len(shown)} shown)",
        )
        return response


class PatientDetailView(generics.GenericAPIView):
    """One patient with allergies and addresses."""

    serializer_class = PatientSerializer
    required_permissions = ["pharmacy.view_patient"]

    def get(self, request, pk: int):
        patient = get_object_or_404(Patient.objects.prefetch_related(*PATIENT_PREFETCH), pk=pk)
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=patient,
            patient=patient,
        )
        return Response(self.get_serializer(patient).data)
