from django.apps import AppConfig


class TranscriberConfig(AppConfig):
    """The transcriber worker app; django-dramatiq style discovery imports its `tasks` module."""

    name = "recordplus.transcriber"
    label = "transcriber"
    verbose_name = "RecordPlus transcriber"
