"""API endpoints of the inventory app."""

from django.urls import path

from inventory.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="api_product_list"),
    path(
        "products/<str:product_ndc>/",
        views.ProductDetailView.as_view(),
        name="api_product_detail",
    ),
    path("packages/", views.PackageListView.as_view(), name="api_package_list"),
]
