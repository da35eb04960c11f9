"""Browser pages of the catalogue."""

from django.urls import path

from inventory import views

urlpatterns = [
    path("", views.catalogue_search, name="catalogue_search"),
    path("<str:product_ndc>/", views.product_detail, name="product_detail"),
    path("<str:product_ndc>/storage/", views.product_storage, name="product_storage"),
]
