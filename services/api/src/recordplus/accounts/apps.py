from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "recordplus.accounts"
    label = "accounts"
