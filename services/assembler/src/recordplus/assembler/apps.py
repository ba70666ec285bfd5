from django.apps import AppConfig


class AssemblerConfig(AppConfig):
    name = "recordplus.assembler"
    label = "assembler"
