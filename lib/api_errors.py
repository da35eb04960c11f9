"""Every API error as the contract's JSON: {"error": "<code>", "detail": "<sentence>", ...}.

Every app's API raises ``APIError``; settings name ``exception_handler`` as DRF's
``EXCEPTION_HANDLER`` (DESIGN.md section 6). What happens outside DRF's views (an address
no URL matches, an exception no handler caught) goes to ``not_found``, ``server_error``,
``bad_request`` and ``permission_denied``, the root URLconf's ``handler404`` and friends:
JSON under ``/api/``, the site's pages elsewhere. A 500 never shows the traceback.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """An error a view raises with its own code, status and extra fields."""

    def __init__(self, code: str, detail: str, status_code: int = 400, **extra):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.error_code = code
        self.extra = extra


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


def _sentence(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _sentence(value)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(_sentence(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    """DRF's handler with the body rewritten to the contract's shape (``fields`` holds a
    validation error's field -> messages); None for what DRF does not handle (a 500)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIError):
        body = {"error": exc.error_code, "detail": str(exc.detail), **exc.extra}
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        body = {"error": code, "detail": _sentence(exc.detail)}
        if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
            body["fields"] = exc.detail
    # An anonymous caller is told 401 with the scheme to use, as HTTP asks.
    if response.status_code == status.HTTP_403_FORBIDDEN and isinstance(
        exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed
    ):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    return Response(body, status=response.status_code, headers=dict(response.headers))


API_PREFIX = "/api/"


def is_api_request(request) -> bool:
    """The API answers in JSON; everything else is a page for people."""
    return request.path_info.startswith(API_PREFIX)


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status_code)


def bad_request(request, exception, template_name="400.html"):
    if is_api_request(request):
        return json_error(400, "bad_request", "The request is malformed and cannot be read.")
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name="403.html"):
    if is_api_request(request):
        return json_error(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception, template_name)


def not_found(request, exception, template_name="404.html"):
    if is_api_request(request):
        return json_error(404, "not_found", "There is nothing at this address.")
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name="500.html"):
    if is_api_request(request):
        return json_error(
            500,
            "server_error",
            "Something went wrong on our side; the error was recorded. Try again later.",
        )
    return defaults.server_error(request, template_name)
