from django.core.management.base import BaseCommand, CommandError

from core.crypto import SecretsUnreadable, secrets_reencrypt
from payments.models import GatewayAccount


class Command(BaseCommand):
    help = (
        "Encrypt every payment method's credentials again with the first key of "
        "FIELD_ENCRYPTION_KEY, after a new key was put first. Exits 1 naming the accounts "
        "no key opens (their credentials must be entered again in admin)."
    )

    def handle(self, *args, **options):
        done, unreadable = 0, []
        for account in GatewayAccount.objects.select_related("provider").order_by("pk"):
            try:
                token = secrets_reencrypt(account.credentials_encrypted)
            except SecretsUnreadable:
                unreadable.append(str(account))
                continue
            if token != account.credentials_encrypted:
                GatewayAccount.objects.filter(pk=account.pk).update(credentials_encrypted=token)
            done += 1
        self.stdout.write(f"Credenciales cifradas de nuevo: {done}.")
        if unreadable:
            for name in unreadable:
                self.stderr.write(f"Ninguna clave abre las credenciales de {name}.")
            raise CommandError("Hay credenciales que ninguna clave abre; captúralas de nuevo.")
