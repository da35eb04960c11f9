"""The API's pagination (settings ``DEFAULT_PAGINATION_CLASS``): DRF's limit and offset,
with a clear 400 for a value that is not a page of a list instead of a silent default
(or, for a number too large for PostgreSQL, a server error)."""

from rest_framework import pagination

from lib.api_errors import APIError

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000


def _whole_number(request, name: str, *, minimum: int, maximum: int, default: int) -> int:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not minimum <= int(text) <= maximum:
        raise APIError(
            f"invalid_{name}",
            f"{name} must be a whole number from {minimum:,} to {maximum:,}, not {text[:40]!r}.",
        )
    return int(text)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?limit=`` 1 to 500 (50 by default), ``?offset=`` 0 to a billion."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        return _whole_number(
            request,
            self.limit_query_param,
            minimum=1,
            maximum=MAX_LIMIT,
            default=self.default_limit,
        )

    def get_offset(self, request):
        return _whole_number(
            request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET, default=0
        )

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
