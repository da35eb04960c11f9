"""Root URLs: the integration contract's paths, the API docs and the browser pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pharmacy import views
from pharmacy.health import health

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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("", views.home, name="home"),
    path("technician/", views.technician_home, name="technician_home"),
    path("pharmacist/", views.pharmacist_home, name="pharmacist_home"),
    path("manager/", views.manager_home, name="manager_home"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("audit/", views.audit_log, name="audit_log"),
    path("catalogue/", include("inventory.urls")),
    path("", include("orders.urls")),
    path("admin/", admin.site.urls),
]
