from django.apps import AppConfig


class TranscriptsConfig(AppConfig):
    name = "recordplus.transcripts"
    label = "transcripts"
