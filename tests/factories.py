import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from accounts.models import Contract, Provider, User
from plans.models import Plan, Zone

PASSWORD = "una-clave-larga-2026"


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: str(300 + n))
    name = factory.Sequence(lambda n: f"ISP {n}")
    handle_domain = factory.Sequence(lambda n: f"isp{n}")
    country = "MX"
    currency = "MXN"
    locale = "es_MX"
    time_zone = "America/Mexico_City"


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Zona {n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")
    download_mbps = 10
    upload_mbps = 2
    price = Decimal("250.00")
    period_days = 30


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract
        skip_postgeneration_save = True

    provider = factory.SubFactory(ProviderFactory)
    number = factory.Sequence(lambda n: str(1000 + n))
    holder_name = "Juan Pérez López"
    installation_address = "Calle Pino 45, CDMX"
    phone = "+525512345678"
    zone = factory.SubFactory(ZoneFactory, provider=factory.SelfAttribute("..provider"))
    plan = factory.SubFactory(PlanFactory, provider=factory.SelfAttribute("..provider"))
    paid_until = factory.LazyFunction(lambda: datetime.date(2026, 12, 1))

    @factory.post_generation
    def opening_period(obj, create, extracted, **kwargs):  # noqa: N805
        """The service period behind the vigencia given (billing.recompute derives it)."""
        from billing.models import ServicePeriod

        if create and obj.paid_until is not None:
            ServicePeriod.objects.create(
                contract=obj,
                plan=obj.plan,
                starts_on=obj.paid_until - datetime.timedelta(days=obj.plan.period_days),
                ends_on=obj.paid_until,
                description="Vigencia inicial",
            )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    provider = factory.SubFactory(ProviderFactory)
    username = factory.LazyAttributeSequence(
        lambda o, n: f"user{n}@{o.provider.handle_domain}" if o.provider else f"staff{n}"
    )
    phone = "+525512345678"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def staff_of(provider: Provider | None, *roles: str, username: str | None = None) -> User:
    """A staff login of `provider` (None: platform) holding these roles (accounts.roles)."""
    user = UserFactory(
        provider=provider, is_staff=True, **({"username": username} if username else {})
    )
    user.groups.set(Group.objects.filter(name__in=roles))
    assert user.groups.count() == len(roles), roles
    return user
