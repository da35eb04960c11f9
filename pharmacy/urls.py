"""Root URLs: the integration contract's paths, the API docs and the browser pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from pharmacy import dashboard, views
from pharmacy.health import health

# JSON under /api/, the site's pages elsewhere (lib.api_errors).
handler400 = "lib.api_errors.bad_request"
handler403 = "lib.api_errors.permission_denied"
handler404 = "lib.api_errors.not_found"
handler500 = "lib.api_errors.server_error"

api_v1 = [
    path("", include("pharmacy.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("shipping.api.urls")),
]

urlpatterns = [
    path("health/", health, name="health"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # Its start-up script is served from the same path, not inline (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("login/code/", views.second_factor, name="second_factor"),
    path("login/authenticator/", views.second_factor_setup, name="second_factor_setup"),
    path("login/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("", views.home, name="home"),
    path("technician/", dashboard.technician_home, name="technician_home"),
    path("pharmacist/", dashboard.pharmacist_home, name="pharmacist_home"),
    path("manager/", dashboard.manager_home, name="manager_home"),
    path("manager/access/", views.staff_access, name="staff_access"),
    path("manager/access/tokens/", views.api_token_create, name="api_token_create"),
    path("manager/access/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path(
        "manager/access/<int:pk>/reset-second-factor/",
        views.second_factor_reset,
        name="second_factor_reset",
    ),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/addresses/new/", views.patient_address_add, name="patient_address_add"),
    path(
        "patients/<int:pk>/addresses/<int:address_id>/edit/",
        views.patient_address_edit,
        name="patient_address_edit",
    ),
    path(
        "patients/<int:pk>/addresses/<int:address_id>/default/",
        views.patient_address_make_default,
        name="patient_address_make_default",
    ),
    path(
        "patients/<int:pk>/addresses/<int:address_id>/remove/",
        views.patient_address_remove,
        name="patient_address_remove",
    ),
    path("patients/<int:pk>/allergies/", views.patient_allergy_add, name="patient_allergy_add"),
    path(
        "patients/<int:pk>/allergies/<int:allergy_id>/remove/",
        views.patient_allergy_remove,
        name="patient_allergy_remove",
    ),
    path(
        "patients/<int:pk>/no-known-allergies/",
        views.patient_no_known_allergies,
        name="patient_no_known_allergies",
    ),
    path(
        "patients/<int:pk>/conditions/", views.patient_condition_add, name="patient_condition_add"
    ),
    path(
        "patients/<int:pk>/conditions/<int:condition_id>/remove/",
        views.patient_condition_remove,
        name="patient_condition_remove",
    ),
    path("prescribers/", views.prescriber_list, name="prescriber_list"),
    path("prescribers/new/", views.prescriber_create, name="prescriber_create"),
    path("prescribers/<int:pk>/", views.prescriber_detail, name="prescriber_detail"),
    path("prescribers/<int:pk>/edit/", views.prescriber_edit, name="prescriber_edit"),
    path("audit/", views.audit_log, name="audit_log"),
    path("catalogue/", include("inventory.urls")),
    path("shipping/", include("shipping.urls")),
    path("side-effects/", include("outbox.urls")),
    path("", include("orders.urls")),
    path("admin/", admin.site.urls),
]
