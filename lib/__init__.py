"""Plumbing the apps share that holds no models (STYLE.md "Layout": a model-free ``lib/``).

``lib.migrations``: migration operations, such as installing a database function from
its ``.sql`` file.
"""
