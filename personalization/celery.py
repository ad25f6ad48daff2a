"""The Celery application; tasks are discovered in each domain app's `tasks.py`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "personalization.settings")

app = Celery("personalization")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
