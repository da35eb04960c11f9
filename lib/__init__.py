"""Plumbing every app needs and that holds no models (DESIGN.md section 3; STYLE.md
"Layout"): it sits below every app in the dependency order, so any app may import it and it
imports none of them.

- ``lib.api_errors``: the API error type, DRF's exception handler and the root URLconf's
  404/500 handlers, which answer every API error as the contract's JSON.
- ``lib.api_metadata``, ``lib.api_pagination``, ``lib.api_parsers``, ``lib.api_schema``:
  the API's OPTIONS answer, limit/offset pages, body parsers and the errors every
  operation documents, each refusing bad input with a clear 400.
- ``lib.client_ip``: the address a request came from, believing only our own proxies.
- ``lib.migrations``: migration operations, such as installing a database function from
  its ``.sql`` file.
- ``lib.queueing``: publishing a Celery task from a request without waiting on the broker.
- ``lib.rate_limits``: counting events per key in fixed windows in the shared cache.
- ``lib.request_limits``: the middleware that refuses NUL characters and oversized bodies
  before any view, and reads chunked bodies.
- ``lib.text``: the rule for names and free text we store (no control characters, no
  invisible text-direction characters).
- ``lib.throttles``: the API's throttles, counted with ``lib.rate_limits``.
- ``lib.us_addresses``: US state and territory codes, the ZIP code's form, and the check of
  a mailing address.
"""
