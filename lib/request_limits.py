"""Requests refused before any view reads them, so a bad one never reaches a query.

``RequestLimitsMiddleware`` answers, in JSON for ``/api/`` and as a plain page elsewhere:

- 400 ``nul_character`` for a NUL (U+0000) in the path, a query parameter, a header or a
  cookie: PostgreSQL text cannot hold one, so it would otherwise fail deep in a query.
- 413 ``too_large`` for a body longer than the view accepts, judged from
  ``Content-Length`` before a byte is read. A view declares its limit as
  ``max_body_bytes``; the rest of the API takes ``DATA_UPLOAD_MAX_MEMORY_SIZE``; pages
  keep Django's own limits (a fax image upload is larger than any API body).
- A chunked body (no ``Content-Length``; gunicorn sets ``wsgi.input_terminated``) is
  read here, at most up to the limit, so the view sees it whole: Django alone would read
  it as empty.

A view that answers errors in a format of its own (the e-prescription endpoints: SCRIPT
or FHIR) gives ``request_refused(status=, code=, detail=)``, which the refusals here use.
One that must refuse an oversized body itself sets ``answers_oversized_body = True``: it
is given the declared length, or for a chunked body the bytes read up to one past the
limit.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse
from django.template import loader
from django.urls import Resolver404, resolve

from lib.api_errors import is_api_request, json_error

NUL = "\x00"


def refusal(request, status: int, code: str, detail: str, view_class=None) -> HttpResponse:
    """The error in the view's own format (its ``request_refused``), else in the
    contract's JSON for the API and as a plain page for people."""
    if own_format := getattr(view_class, "request_refused", None):
        return own_format(status=status, code=code, detail=detail)
    if is_api_request(request):
        return json_error(status, code, detail)
    page = loader.get_template("400.html").render({"status": status, "detail": detail})
    return HttpResponse(page, status=status)


def _nul_problem(request) -> str:
    """Where a NUL character is in the request's address, headers or cookies, or ""."""
    if NUL in request.path_info:
        return "The address contains a NUL character (\\u0000)."
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            shown = name.replace(NUL, "\\u0000")
            return f"The query parameter {shown!r} contains a NUL character (\\u0000)."
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            header = key[5:].replace("_", "-").title()
            return f"The {header} header contains a NUL character (\\u0000)."
    if any(NUL in name or NUL in value for name, value in request.COOKIES.items()):
        return "A cookie contains a NUL character (\\u0000)."
    return ""


def _view_class(view_func):
    return getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)


def _view_class_of(request):
    """The class of the view the path leads to (None for a function or no match)."""
    try:
        return _view_class(resolve(request.path_info).func)
    except Resolver404:
        return None


def _body_limit(request, view_func) -> int | None:
    """The view's ``max_body_bytes``; else the API's limit; None for a page."""
    own = getattr(_view_class(view_func), "max_body_bytes", None)
    if own is not None:
        return own
    if is_api_request(request):
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None


def _answers_oversized_body(view_func) -> bool:
    return bool(getattr(_view_class(view_func), "answers_oversized_body", False))


def _is_chunked(request) -> bool:
    return (
        not request.META.get("CONTENT_LENGTH")
        and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(request.META.get("wsgi.input_terminated"))
    )


def _read_at_most(stream, size: int) -> bytes:
    """Up to ``size`` bytes of a stream that may return fewer per read, until its end."""
    parts, read = [], 0
    while read < size:
        part = stream.read(min(size - read, 64 * 1024))
        if not part:
            break
        parts.append(part)
        read += len(part)
    return b"".join(parts)


def _too_large(request, limit: int) -> HttpResponse:
    return refusal(
        request,
        413,
        "too_large",
        f"The body is larger than the {limit:,} bytes this address accepts; nothing was read.",
    )


class RequestLimitsMiddleware:
    """Refuses a request with a NUL character or a body over its view's limit, and reads
    a chunked body (see the module's docstring). Goes before every middleware that reads
    the body (CSRF) or queries with request data (sessions, authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if problem := _nul_problem(request):
            detail = problem + " Remove it and send again."
            return refusal(request, 400, "nul_character", detail, _view_class_of(request))
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        limit = _body_limit(request, view_func)
        if limit is None:
            return None
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared:
            if not (declared.isascii() and declared.isdigit()):
                return refusal(
                    request,
                    400,
                    "malformed_request",
                    "Content-Length must be a whole number.",
                    _view_class(view_func),
                )
            if int(declared) > limit and not _answers_oversized_body(view_func):
                return _too_large(request, limit)
            return None
        if _is_chunked(request):
            body = _read_at_most(request.META["wsgi.input"], limit + 1)
            if len(body) > limit and not _answers_oversized_body(view_func):
                return _too_large(request, limit)
            # Django reads the body through this stream (and its declared length).
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return None
