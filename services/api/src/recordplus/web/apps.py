from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "recordplus.web"
    label = "web"
