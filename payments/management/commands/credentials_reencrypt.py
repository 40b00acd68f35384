from django.core.management.base import BaseCommand, CommandError

from billing.models import NetworkHook, Router
from core.crypto import SecretsUnreadable, secrets_reencrypt
from payments.models import GatewayAccount

# Every secret kept encrypted: (model, field).
ENCRYPTED = (
    (GatewayAccount, "credentials_encrypted"),
    (NetworkHook, "secret_encrypted"),
    (Router, "password_encrypted"),
)


class Command(BaseCommand):
    help = (
        "Encrypt every secret again (payment methods' credentials, the ISPs' network "
        "webhook secrets and router passwords) with the first key of FIELD_ENCRYPTION_KEY, "
        "after a new key was put first. Exits 1 naming those no key opens (they must be "
        "entered again in admin)."
    )

    def handle(self, *args, **options):
        done, unreadable = 0, []
        for model, field in ENCRYPTED:
            for row in model.objects.select_related("provider").order_by("pk"):
                stored = getattr(row, field)
                try:
                    token = secrets_reencrypt(stored)
                except SecretsUnreadable:
                    unreadable.append(f"{model._meta.verbose_name} {row}")
                    continue
                if token != stored:
                    model.objects.filter(pk=row.pk).update(**{field: token})
                done += 1
        self.stdout.write(f"Credenciales cifradas de nuevo: {done}.")
        if unreadable:
            for name in unreadable:
                self.stderr.write(f"Ninguna clave abre las credenciales de {name}.")
            raise CommandError("Hay credenciales que ninguna clave abre; captúralas de nuevo.")
