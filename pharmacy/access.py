"""Access checks of the browser pages: the permission a page needs, and the second sign-in
factor a session must pass first.

The second factor's rule: after the password, a session whose person must pass it (their
role is in ``MFA_REQUIRED_ROLES``, they are a superuser, or they set up an authenticator
app) reaches nothing but the second-factor pages, sign-out and ``/health/`` until it has:
every other page redirects there, and the API answers 403 to such a session. Verification
(PV1, PV2) and every manager action are therefore out of reach until then. A manager's
reset of someone's second factor deletes the device their session passed with, so it
takes effect on their next request. API tokens are not sessions and never meet this
rule: they are issued by a manager or on the command line (README, "Authentication").
"""

from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def staff_permission_required(permission: str):
    """Signed-out visitors go to sign in; signed-in staff without the permission get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(
                    f"Your role ({request.user.role_label}) does not give access to this page."
                )
            return view(request, *args, **kwargs)

        # Read by the role matrix (pharmacy/tests/test_url_matrix.py).
        wrapped.required_permission = permission
        return wrapped

    return decorator


# Pages an unverified session may reach: signing in and out, the second factor's own.
SECOND_FACTOR_EXEMPT_URL_NAMES = frozenset(
    {"login", "logout", "health", "second_factor", "second_factor_setup", "recovery_codes"}
)
# Whether this session's person must pass the second factor, decided once per session.
SECOND_FACTOR_REQUIRED_KEY = "second_factor_required"


def must_pass_second_factor(user) -> bool:
    """Whether ``user`` passes a second factor after their password: a role of
    ``MFA_REQUIRED_ROLES``, a superuser, or anyone who set up an authenticator app."""
    from pharmacy.services.staff import has_authenticator  # noqa: PLC0415 (models load later)

    return user.is_superuser or user.role in settings.MFA_REQUIRED_ROLES or has_authenticator(user)


def held_at_second_factor(request: HttpRequest) -> bool:
    """Whether this request's session is signed in but has yet to pass the second factor
    its person must pass."""
    user = request.user
    is_verified = getattr(user, "is_verified", None)  # set by django-otp's OTPMiddleware
    if not user.is_authenticated or is_verified is None or is_verified():
        return False
    # Asked once per session, which spares a technician's every request the device query.
    required = request.session.get(SECOND_FACTOR_REQUIRED_KEY)
    if required is None:
        required = must_pass_second_factor(user)
        request.session[SECOND_FACTOR_REQUIRED_KEY] = required
    return required


def safe_next(request: HttpRequest, default: str = "home") -> str:
    """The ``next`` address of the request when it is on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


class SecondFactorMiddleware:
    """Hold a signed-in session at the second factor until it passes it (see the module's
    docstring). Must follow django-otp's ``OTPMiddleware``, which tells whether it did."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if request.resolver_match.url_name in SECOND_FACTOR_EXEMPT_URL_NAMES:
            return None
        if not request.user.is_authenticated:
            # Signed out, or signed out just now by the session limits (a fresh anonymous
            # user, which OTPMiddleware never saw): there is no second factor to pass.
            return None
        if not hasattr(request.user, "is_verified"):
            raise ImproperlyConfigured(
                "SecondFactorMiddleware must follow django_otp.middleware.OTPMiddleware."
            )
        if not held_at_second_factor(request):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "error": "second_factor_required",
                    "detail": "This session has not passed the second sign-in step; enter "
                    "the code from your authenticator app at /login/code/ first.",
                },
                status=403,
            )
        # Only a page can be returned to after the code: a form's address wants its POST.
        query = {"next": request.get_full_path()} if request.method == "GET" else {}
        target = reverse("second_factor") + (f"?{urlencode(query)}" if query else "")
        if request.headers.get("HX-Request"):
            # htmx would swap the whole sign-in page into a fragment; have it navigate.
            return HttpResponse(status=204, headers={"HX-Redirect": target})
        return redirect(target)


def sign_in_address(request: HttpRequest) -> str:
    """``/login/?next=`` the page to come back to after signing in: the page itself for
    a GET; for an htmx fragment the page it is part of (``HX-Current-URL``); for a form
    sent (POST) the page that sent it (``Referer``), since its own address wants a POST.
    Only an address on this site; none otherwise."""
    if request.headers.get("HX-Request"):
        back = request.headers.get("HX-Current-URL", "") or request.get_full_path()
    elif request.method in ("GET", "HEAD"):
        back = request.get_full_path()
    else:
        back = request.headers.get("Referer", "")
    if back and not back.startswith("/"):
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        else:
            parts = urlsplit(back)
            back = parts.path + (f"?{parts.query}" if parts.query else "")
    login = reverse(settings.LOGIN_URL)
    if not back or urlsplit(back).path == login:
        return login
    query = QueryDict(mutable=True)
    query["next"] = back
    return f"{login}?{query.urlencode(safe='/')}"  # as login_required writes it


def sign_in_response(request: HttpRequest) -> HttpResponse:
    """Send a signed-out person to sign in and back: a redirect, or for htmx an
    ``HX-Redirect`` (htmx would swap the sign-in page into the fragment)."""
    target = sign_in_address(request)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return redirect(target)


class SignInRedirectMiddleware:
    """Every page refused to a signed-out person (a session that timed out, or none)
    sends them to sign in and back, whatever the view's own check answered: a 403 of a
    permission check that never asked whether anyone was signed in, or
    ``login_required``'s redirect, which would lose an htmx fragment's page or send a
    form's POST address as the way back. The API answers in JSON and the admin has its
    own sign-in: neither is touched. A signed-in person without the permission still
    gets 403: signing in again would not help them.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.login_path = reverse(settings.LOGIN_URL)

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or user.is_authenticated:
            return response
        if request.path.startswith(("/api/", "/admin/")):
            return response
        if response.status_code == 403 or (
            response.status_code == 302
            and urlsplit(response.get("Location", "")).path == self.login_path
        ):
            if settings.SESSION_COOKIE_NAME in request.COOKIES:
                # A session cookie but nobody signed in: the session ended.
                messages.info(request, "Your session ended. Sign in to go back where you were.")
            return sign_in_response(request)
        return response
