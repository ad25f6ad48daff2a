from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from personalization import demo

LOGIN_FILE_NAME = "demo-logins.json"


class Command(BaseCommand):
    help = (
        "Load the demo data: Production and Development sandboxes, datastreams, profile schema, governance "
        "labels, profiles with identities, audiences with memberships, destinations, and the admin, marketer and "
        "viewer logins. Creates only what is missing, so running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--profiles",
            type=int,
            default=demo.DEFAULT_PROFILES,
            help="Profiles in the Production sandbox (default %(default)s); Development gets a tenth.",
        )
        parser.add_argument(
            "--print-passwords",
            action="store_true",
            help="Print the passwords generated for new demo users even when DEBUG is off.",
        )

    def handle(self, *args, profiles, print_passwords, **options):
        if profiles < 0:
            raise CommandError("--profiles must be zero or more.")
        result = demo.seed(profiles=profiles)

        if result.changed:
            created = ", ".join("%d %s" % (n, kind) for kind, n in result.created.items())
            self.stdout.write(self.style.SUCCESS("Demo data created: %s." % created))
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        for line in result.summary:
            self.stdout.write(line)
        self._report_logins(result.new_passwords, print_passwords)

    def _report_logins(self, new_passwords, print_passwords):
        usernames = [user.username for user in demo.DEMO_USERS]
        roles = {user.username: user.role for user in demo.DEMO_USERS}
        shown = {}
        if settings.DEBUG:
            # Embedded mode: keep the generated passwords in var/ so every `make run` can print the login.
            login_file = Path(settings.VAR_DIR) / LOGIN_FILE_NAME
            if new_passwords:
                demo.remember_logins(login_file, new_passwords)
            shown = demo.recall_logins(login_file)
        elif print_passwords:
            shown = dict(new_passwords)

        self.stdout.write("")
        self.stdout.write("Sign in at /accounts/login/ with:")
        for username in usernames:
            if username in shown:
                self.stdout.write("  %-9s %s   (role %s)" % (username, shown[username], roles[username]))
            else:
                self.stdout.write("  %-9s (password not shown)   (role %s)" % (username, roles[username]))
        if len(shown) < len(usernames):
            self.stdout.write(
                "Passwords are shown only when they were generated with DEBUG on or with --print-passwords. "
                "Set one with: python manage.py changepassword <username>"
            )
