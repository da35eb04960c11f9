"""API endpoints of the shipping app (the contract's shipment paths arrive with shipping)."""

urlpatterns: list = []
