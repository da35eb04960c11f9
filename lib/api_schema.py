"""The errors every API operation may answer, added to the OpenAPI schema (a
drf-spectacular postprocessing hook, settings ``SPECTACULAR_SETTINGS``), so that each view
documents only its own refusals.

Any request may be malformed (400: a NUL character, a limit or offset that is no page, a
body that is not JSON); an operation that needs credentials may answer 401 (none, or
wrong) and 403 (a role that may not); one with an id in its path 404; one with a body 413
and 415.
An operation whose errors are in a format of its own (SCRIPT XML, a FHIR
OperationOutcome) gets them in that format, as its documented 400 is.
"""

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
COMMON = {
    "400": "Malformed request: a NUL character, a limit or offset that is no page, a body "
    "that cannot be read; nothing changed.",
    "401": "No credentials, or wrong ones.",
    "403": "Your role may not do this.",
    "404": "Nothing has this id.",
    "413": "The body is larger than this operation accepts; it was not read.",
    "415": "The body's media type is not one this operation reads.",
}
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "options", "head", "trace"}


def _needs_credentials(operation: dict) -> bool:
    return any(requirement for requirement in operation.get("security", [{}]))


def _error_content(operation: dict) -> dict:
    """The content of the operation's own 400 when it has one (its format), else the
    contract's JSON error."""
    own = operation["responses"].get("400", {}).get("content")
    return own or {"application/json": {"schema": ERROR_SCHEMA}}


def document_common_errors(result, generator, request, public):
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in HTTP_METHODS:
                continue
            wanted = ["400"]
            if _needs_credentials(operation):
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            if "requestBody" in operation:
                wanted += ["413", "415"]
            content = _error_content(operation)
            for status in wanted:
                operation["responses"].setdefault(
                    status, {"content": content, "description": COMMON[status]}
                )
    return result
