"""A test-only URLconf: the site's, plus a page and API views that fail with an exception
nothing handles, for the 500 answers of ``lib.api_errors``."""

from django.urls import path
from rest_framework.views import APIView

from pharmacy.urls import handler400, handler403, handler404, handler500
from pharmacy.urls import urlpatterns as site

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def failing_page(request):
    raise RuntimeError("database password is hunter2")


class FailingAPIView(APIView):
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("database password is hunter2")


urlpatterns = [
    path("api/v1/failing/", FailingAPIView.as_view()),
    path("api/v1/failing-plain/", failing_page),
    path("failing/", failing_page),
    *site,
]
