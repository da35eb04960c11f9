"""The outbox: every side effect (a label, an e-mail, a carrier call) is a row written in
the transaction of the change that causes it, and a Celery worker delivers it from there.

An app records a side effect with ``outbox.services.record_side_effect`` and delivers it in
a function it registers with ``@outbox.registry.delivers("<kind>")`` in its ``effects``
module (found at start-up, like Celery's tasks). This app sits below every other app in
the dependency order: it imports none of them.
"""
