"""API views of the pharmacy app. Every read of patient data writes one audit row; every
write goes through a service of ``pharmacy.services``, which writes its own."""

from datetime import date

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from inventory.api.serializers import ErrorSerializer
from lib.api_errors import APIError
from pharmacy.api.serializers import (
    AllergyInputSerializer,
    AllergySerializer,
    PatientInputSerializer,
    PatientSerializer,
    PossibleDuplicateSerializer,
)
from pharmacy.models import AuditEvent, Patient, PatientSearchError
from pharmacy.patient_keys import name_key
from pharmacy.services import (
    PatientDataError,
    PossibleDuplicatesFound,
    create_patient,
    record_allergy,
    record_audit_event,
)

PATIENT_PREFETCH = ("allergies__ingredient", "allergies__pharmacologic_class", "addresses")


def _invalid(error: PatientDataError) -> APIError:
    """The service's field errors in the shape DRF gives its own: field -> messages."""
    return APIError(
        "invalid",
        str(error),
        fields={field: [message] for field, message in error.errors.items()},
    )


class PatientListView(generics.ListAPIView):
    """Patients by last name and date of birth, with their allergies; a new patient."""

    serializer_class = PatientSerializer
    required_permissions = {
        "GET": ["pharmacy.view_patient"],
        "POST": ["pharmacy.view_patient", "pharmacy.add_patient"],
    }

    def get_queryset(self):
        # Merged records are hidden: their prescriptions and orders are the survivor's.
        patients = Patient.objects.active().prefetch_related(*PATIENT_PREFETCH)
        last_name = self.request.query_params.get("last_name", "").strip()
        date_of_birth = self.request.query_params.get("date_of_birth", "").strip()
        query = self.request.query_params.get("q", "")
        if query:
            try:
                patients = patients.search(query)
            except PatientSearchError as error:
                raise APIError("invalid_search", str(error)) from None
        if last_name:
            # Any case, accents, apostrophes and hyphens: "OConnor" finds "O'Connor".
            patients = patients.filter(search_last_name=name_key(last_name))
        if date_of_birth:
            try:
                patients = patients.filter(date_of_birth=date.fromisoformat(date_of_birth))
            except ValueError:
                raise APIError(
                    "invalid_date", "date_of_birth must be a date as YYYY-MM-DD."
                ) from None
        return patients

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description="Search: name words (any case, accents, apostrophes, hyphens), "
                "date of birth, phone in any layout, Rx number or order number; 2 to 100 "
                "characters",
            ),
            OpenApiParameter(
                "last_name",
                str,
                description="Exact last name, whatever its case, accents, apostrophes or hyphens",
            ),
            OpenApiParameter("date_of_birth", str, description="YYYY-MM-DD"),
        ],
        responses={200: PatientSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

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

    @extend_schema(
        request=PatientInputSerializer,
        responses={
            201: PatientSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Invalid input; nothing written. See fields."
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="possible_duplicates: patients on file may be this person "
                "(`candidates`, each with `reasons`); nothing written. Send the same body "
                'with `"confirm_not_duplicate": true` to create the patient anyway.',
            ),
        },
    )
    def post(self, request):
        given = PatientInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            # create_patient writes the audit row of this request (the patient created).
            patient = create_patient(**given.validated_data, by=request.user)
        except PossibleDuplicatesFound as error:
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.SEARCH,
                request=request,
                patients=[c.patient for c in error.candidates],
                summary=f"API possible duplicates shown ({len(error.candidates)})",
            )
            raise APIError(
                "possible_duplicates",
                "Patients on file may be this person; nothing was created. Check them, and "
                'send "confirm_not_duplicate": true to create the patient anyway.',
                status_code=status.HTTP_409_CONFLICT,
                candidates=PossibleDuplicateSerializer(error.candidates, many=True).data,
            ) from None
        except PatientDataError as error:
            raise _invalid(error) from None
        patient = Patient.objects.prefetch_related(*PATIENT_PREFETCH).get(pk=patient.pk)
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


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


class PatientAllergyView(generics.GenericAPIView):
    """Record an allergy of a patient, coded to an ingredient or pharmacologic class when
    the catalogue knows the allergen."""

    serializer_class = AllergyInputSerializer
    required_permissions = [
        "pharmacy.view_patient",
        "pharmacy.change_patient",
        "pharmacy.add_allergy",
    ]

    @extend_schema(
        request=AllergyInputSerializer,
        responses={
            201: AllergySerializer,
            400: ErrorSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such patient."),
        },
    )
    def post(self, request, pk: int):
        patient = get_object_or_404(Patient, pk=pk)
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            # record_allergy writes the audit row of this request.
            allergy = record_allergy(patient, **given.validated_data, by=request.user)
        except PatientDataError as error:
            raise _invalid(error) from None
        return Response(AllergySerializer(allergy).data, status=status.HTTP_201_CREATED)
