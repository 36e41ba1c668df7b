"""WSGI entry point: ``gunicorn config.wsgi``."""

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Django imports the URL conf (every view, DRF, the schema generator: a fifth of the
# process) on the first request. Imported here, it is loaded once in gunicorn's master
# (``preload_app``) and shared by the workers it forks, not loaded again in each.
import_module(settings.ROOT_URLCONF)
