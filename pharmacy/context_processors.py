"""Template context every page needs: the pharmacy's name. The navigation bar, which
counts the work queues of every app, is ``shipping.navigation``."""

from django.conf import settings


def pharmacy(request):
    return {"pharmacy_name": settings.PHARMACY_NAME}
