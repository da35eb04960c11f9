"""API endpoints of this app (none yet; the integration contract's paths arrive with their issues)."""

urlpatterns: list = []
