from django.core.management.base import BaseCommand

from recordplus.accounts.services import user_create_with_token


class Command(BaseCommand):
    help = "Create a user (if missing) and print a new API token for it."

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("username")
        parser.add_argument("--token-name", default="", help="a label for the token")

    def handle(self, *args, username: str, token_name: str, **options):  # noqa: ANN002, ANN003
        _, token = user_create_with_token(username=username, token_name=token_name)
        self.stdout.write(token)
