"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import reverse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pharmacy.settings")
application = get_wsgi_application()
# Import every view now (the URL configuration imports them) rather than in the first
# request each web process answers, which would wait for those imports: a second or more
# on a busy machine (seen as a 4 s read in the chaos test), after every restart.
reverse("health")  # reads the whole URL configuration, importing each view module
