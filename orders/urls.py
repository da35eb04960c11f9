"""Browser pages of the orders app."""

urlpatterns: list = []
