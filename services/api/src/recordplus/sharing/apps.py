from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "recordplus.sharing"
    label = "sharing"
