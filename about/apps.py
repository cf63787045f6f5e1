from django.apps import AppConfig


class AboutConfig(AppConfig):
    name = "about"
    verbose_name = "The pharmacy"

    def ready(self):
        from . import signals  # noqa: F401
