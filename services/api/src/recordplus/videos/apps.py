from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "recordplus.videos"
    label = "videos"
