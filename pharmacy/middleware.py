"""Session limits for shared pharmacy workstations."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

SESSION_STARTED_KEY = "signed_in_at"


class SessionLimitsMiddleware:
    """End a staff session 12 hours after sign-in however active it is.

    The 15-minute idle limit is the session cookie age, renewed on every request
    (SESSION_SAVE_EVERY_REQUEST); this adds the absolute limit the cookie cannot express.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META:
            started = request.session.get(SESSION_STARTED_KEY)
            if started is None:
                request.session[SESSION_STARTED_KEY] = time.time()
            elif time.time() - started > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds():
                logout(request)
                messages.info(
                    request, "Your session reached its 12-hour limit. Please sign in again."
                )
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)
