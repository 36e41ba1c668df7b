from django.apps import AppConfig


class ConvapiConfig(AppConfig):
    name = "convapi"
    verbose_name = "convapi"
