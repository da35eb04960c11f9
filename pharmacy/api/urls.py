"""API endpoints of the pharmacy app."""

from django.urls import path

from pharmacy.api import views

urlpatterns = [
    path("patients/", views.PatientListView.as_view(), name="api_patient_list"),
    path("patients/<int:pk>/", views.PatientDetailView.as_view(), name="api_patient_detail"),
    path(
        "patients/<int:pk>/allergies/",
        views.PatientAllergyView.as_view(),
        name="api_patient_allergies",
    ),
]
