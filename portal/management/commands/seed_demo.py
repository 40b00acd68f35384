import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Contract, Provider, User
from accounts.roles import ISP_ADMIN_ROLE, SUPPORT_ROLE
from billing.demo import (
    postpaid_history_seed,
    prepaid_history_seed,
    vigencias_backed_and_recomputed,
)
from core.phones import phone_normalize
from payments.models import GatewayAccount
from plans.models import Plan, Zone

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "antena-admin-demo"
AGENT_USERNAME = "agente@kona"
AGENT_PASSWORD = "antena-agente-demo"
ISP_ADMIN_USERNAME = "admin@kona"
ISP_ADMIN_PASSWORD = "antena-kona-demo"

PROVIDERS = [
    {
        "code": "111",
        "name": "KONA",
        "handle_domain": "kona",
        "country": "MX",
        "currency": "MXN",
        "locale": "es_MX",
        "time_zone": "America/Mexico_City",
        "require_special_character": False,
        "support_phone": "5511647608",
        "tagline": "Internet inalámbrico para tu comunidad",
        "payment_label": "Efectivo en OXXO, 7-Eleven y farmacias",
        "brand_color": "#d2232a",
        "legal_name": "KONA Telecomunicaciones S.A. de C.V.",
        "tax_id": "RFC KTE150101AB1",
        "tax_address": "Av. Juárez 1, Centro, CDMX",
        "currency_format": "",
        "zones": ["Centro", "Norte"],
        "plans": [
            ("Plan Básico", 10, 2, Decimal("250.00"), "prepaid"),
            ("Plan Avanzado", 20, 5, Decimal("350.00"), "prepaid"),
        ],
        "contracts": [
            # number, holder, address, phone, email, zone, plan, paid_until offset (days)
            (
                "1001",
                "Rosa Martínez Ruiz",
                "Av. Juárez 120, Centro, CDMX",
                "5512345678",
                "",
                "Centro",
                "Plan Básico",
                12,
            ),
            (
                "1002",
                "Juan Pérez López",
                "Calle Pino 45, Norte, CDMX",
                "5587654321",
                "",
                "Norte",
                "Plan Avanzado",
                20,
            ),
            (
                "1003",
                "Juan Pérez López",
                "Calle Cedro 8, Norte, CDMX",
                "5587654321",
                "",
                "Norte",
                "Plan Básico",
                3,
            ),
        ],
        "claimed": [("1002", "juan", "Kona-demo-2026")],
    },
    {
        "code": "222",
        "name": "Interatos",
        "handle_domain": "interatos",
        "country": "AR",
        "currency": "ARS",
        "locale": "es_AR",
        "time_zone": "America/Argentina/Cordoba",
        "require_special_character": True,
        "support_phone": "03546 412345",
        "tagline": "Somos de Calamuchita",
        "payment_label": "Efectivo en Rapipago y Pago Fácil",
        "brand_color": "#1565c0",
        "legal_name": "Interatos S.A.S.",
        "tax_id": "CUIT 30-71234567-8",
        "tax_address": "San Martín 100, Santa Rosa de Calamuchita, Córdoba",
        "currency_format": "¤ #,##0.00",
        "zones": ["Calamuchita"],
        "plans": [("PLAN 6 MEGAS", 6, 1, Decimal("2590.00"), "postpaid")],
        "contracts": [
            (
                "1001",
                "Carlos Gómez",
                "San Martín 230, Santa Rosa de Calamuchita",
                "+54 9 3546 41-2345",
                "",
                "Calamuchita",
                "PLAN 6 MEGAS",
                None,
            ),
            (
                "2002",
                "Laura Fernández",
                "Belgrano 55, Villa General Belgrano",
                "+54 9 3546 45-6789",
                "laura@example.com",
                "Calamuchita",
                "PLAN 6 MEGAS",
                None,
            ),
        ],
        "claimed": [("2002", "laura", "Interatos-demo.2026")],
    },
]


class Command(BaseCommand):
    help = "Load two demo ISPs (KONA-like and Interatos-like) with contracts. Safe to run twice."

    @transaction.atomic
    def handle(self, *args, **options):
        lines = ["", "Antena demo data", "================"]
        for spec in PROVIDERS:
            provider, _created = Provider.objects.get_or_create(
                code=spec["code"],
                defaults={
                    key: value
                    for key, value in spec.items()
                    if key
                    not in ("code", "zones", "plans", "contracts", "claimed", "payment_label")
                },
            )
            zones = {
                name: Zone.objects.get_or_create(provider=provider, name=name)[0]
                for name in spec["zones"]
            }
            plans = {}
            for name, down, up, price, mode in spec["plans"]:
                plan, created = Plan.objects.get_or_create(
                    provider=provider,
                    name=name,
                    defaults={
                        "download_mbps": down,
                        "upload_mbps": up,
                        "price": price,
                        "period_days": 30,
                        "billing_mode": mode,
                    },
                )
                if created:
                    plan.zones.set(zones.values())
                plans[name] = plan
            today = provider.today()
            for number, holder, address, phone, email, zone, plan, offset in spec["contracts"]:
                Contract.objects.get_or_create(
                    provider=provider,
                    number=number,
                    defaults={
                        "holder_name": holder,
                        "installation_address": address,
                        "phone": phone_normalize(phone, country=provider.country),
                        "email": email,
                        "zone": zones[zone],
                        "plan": plans[plan],
                        "billing_mode": plans[plan].billing_mode,
                        "paid_until": (
                            today + datetime.timedelta(days=offset) if offset is not None else None
                        ),
                    },
                )
            lines.append("")
            lines.append(f"{provider.name} — Código {provider.code} — {provider.portal_url()}")
            for number, name, password in spec["claimed"]:
                contract = Contract.objects.get(provider=provider, number=number)
                username = f"{name}@{provider.handle_domain}"
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(
                        username=username,
                        provider=provider,
                        email=contract.email,
                        phone=contract.phone,
                        first_name=contract.holder_name,
                    )
                    user.set_password(password)
                    user.save()
                if contract.user_id is None:
                    contract.user = user
                    contract.claimed_at = contract.created_at
                    contract.save(update_fields=["user", "claimed_at"])
                if contract.billing_mode == Contract.BillingMode.PREPAID:
                    prepaid_history_seed(contract=contract)
                else:
                    postpaid_history_seed(contract=contract)
                login = f"{username} (o {user.email})" if user.email else username
                lines.append(f"  Ingresar:        Cuenta {login} / Contraseña {password}")
            vigencias_backed_and_recomputed(provider=provider)
            for number, _holder, _address, phone, *_rest in spec["contracts"]:
                contract = Contract.objects.get(provider=provider, number=number)
                if contract.user_id is None:
                    lines.append(
                        f"  Crear una cuenta: Código {provider.code} · Contrato {number} · "
                        f"Número {phone}"
                    )
        if not User.objects.filter(username=ADMIN_USERNAME).exists():
            User.objects.create_superuser(ADMIN_USERNAME, "admin@antena.local", ADMIN_PASSWORD)
        kona = Provider.objects.get(code="111")
        for username, password, role in (
            (AGENT_USERNAME, AGENT_PASSWORD, SUPPORT_ROLE),
            (ISP_ADMIN_USERNAME, ISP_ADMIN_PASSWORD, ISP_ADMIN_ROLE),
        ):
            staff = User.objects.filter(username=username).first()
            if staff is None:
                staff = User(username=username, is_staff=True, provider=kona)
                staff.set_password(password)
                staff.save()
            staff.groups.add(Group.objects.get(name=role))
        for provider in Provider.objects.filter(code__in=[spec["code"] for spec in PROVIDERS]):
            spec = next(spec for spec in PROVIDERS if spec["code"] == provider.code)
            GatewayAccount.objects.get_or_create(
                provider=provider,
                gateway="reference",
                defaults={
                    "reference_prefix": provider.code,
                    "expiry_days": 3,
                    "label": spec["payment_label"],
                },
            )
        lines.append("")
        lines.append(f"Admin (/admin/): {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        lines.append(
            f"Support agent of KONA (/admin/agentes/): {AGENT_USERNAME} / {AGENT_PASSWORD}"
        )
        lines.append(
            f"Administrator of KONA (/admin/): {ISP_ADMIN_USERNAME} / {ISP_ADMIN_PASSWORD}"
        )
        if settings.ADMIN_REQUIRE_MFA:
            lines.append("  (these settings require TOTP: the admin sets it up at first login)")
        lines.append("The SMS codes appear in this console (SMS_BACKEND=console).")
        self.stdout.write("\n".join(lines))
