"""WSGI entry point (gunicorn personalization.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from personalization.charsets import refusing_non_text_charsets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalization.settings")

application = refusing_non_text_charsets(get_wsgi_application())
