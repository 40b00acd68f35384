"""Who may see which ISP's rows: one rule per kind of user, used everywhere.

Subscribers reach rows only through their own contracts (`request_contracts`); every
subscriber selector starts from those. Staff reach rows only through their ISP
(`rows_for_staff`), which the admin base (`core.admin.TenantAdminMixin`), the agents'
console and every custom staff view use. The ISP a staff member acts on is
`User.provider`, never a group. Platform staff, who have no ISP of their own and are
superusers or hold the Plataforma role, see every ISP; staff whose ISP was never set
see nothing, rather than everything.

How a row belongs to its ISP is said once per model (`tenant_path`): a model with a
`provider` foreign key belongs to that ISP; any other model an ISP's staff can reach is
registered by its app (`tenant_paths_register`) with the lookup that leads to its ISP,
with None when it belongs to no ISP (the staff roles, say), or with PLATFORM_ONLY when
only platform staff may see it (the periodic jobs, which run for every ISP). A model with neither is
an error, so that a new model cannot slip past the rule.

core names the ISP and user models only by the `provider` attribute of users and rows;
it imports nothing from the apps above it.
"""

import dataclasses
import functools

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.module_loading import import_string

PLATFORM_ROLE = "Plataforma"
SESSION_CONTRACT_KEY = "current_contract_id"


@dataclasses.dataclass(frozen=True)
class TenantPath:
    """`lookup` leads from a row to its ISP's `attribute` (the id, or the code for rows
    stored before their ISP is looked up, such as webhook deliveries). `hidden` are rows
    of the ISP that only platform staff see (a superuser's login, say)."""

    lookup: str
    attribute: str = "pk"
    hidden: dict = dataclasses.field(default_factory=dict)


# Rows no ISP's staff may see, only platform staff: what runs for every ISP at once (the
# periodic jobs).
PLATFORM_ONLY = TenantPath("", attribute="")

_PATHS: dict[type[Model], TenantPath | None] = {}


def tenant_paths_register(paths: dict[type[Model], str | TenantPath | None]) -> None:
    """Say how rows of these models belong to an ISP (None: to no ISP)."""
    for model, path in paths.items():
        _PATHS[model] = TenantPath(path) if isinstance(path, str) else path


def tenant_path(model: type[Model]) -> TenantPath | None:
    """How a row of `model` names its ISP; None when the model belongs to no ISP."""
    model = model._meta.concrete_model
    if model in _PATHS:
        return _PATHS[model]
    try:
        field = model._meta.get_field("provider")
    except FieldDoesNotExist:
        field = None
    if field is None or not field.is_relation:
        raise ImproperlyConfigured(
            f"{model._meta.label} has no `provider`: register how its rows belong to an ISP "
            "with core.tenancy.tenant_paths_register"
        )
    return TenantPath("provider")


def staff_is_platform(user) -> bool:
    """Platform staff: active staff with no ISP of their own who are superusers or hold
    the Plataforma role. Looked up once per user object (that is, per request)."""
    if not (user.is_authenticated and user.is_active and user.is_staff) or user.provider_id:
        return False
    if user.is_superuser:
        return True
    if not hasattr(user, "_antena_is_platform"):
        user._antena_is_platform = user.groups.filter(name=PLATFORM_ROLE).exists()
    return user._antena_is_platform


def rows_for_staff(queryset: QuerySet, *, user) -> QuerySet:
    """The rows of `queryset` that a staff user may see and change: every ISP's for
    platform staff, their own ISP's for staff of one ISP, none for anyone else."""
    path = tenant_path(queryset.model)
    if path is None or staff_is_platform(user):
        return queryset
    if path is PLATFORM_ONLY:
        return queryset.none()
    if not (user.is_authenticated and user.is_staff and user.provider_id):
        return queryset.none()
    value = user.provider_id if path.attribute == "pk" else getattr(user.provider, path.attribute)
    rows = queryset.filter(**{path.lookup: value})
    return rows.exclude(**path.hidden) if path.hidden else rows


def tenant_id_of(obj: Model) -> int | None:
    """The id of the ISP a row belongs to (None: to no ISP, or not known by id)."""
    path = tenant_path(type(obj))
    if path is None or path is PLATFORM_ONLY or path.attribute != "pk":
        return None
    if path.lookup == "pk":
        return obj.pk
    *through, last = path.lookup.split("__")
    for name in through:
        obj = getattr(obj, name)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id")


@functools.cache
def _subscriber_contracts():
    return import_string(settings.SUBSCRIBER_CONTRACTS)


def request_contracts(request: HttpRequest) -> tuple[list, Model | None]:
    """The signed-in subscriber's contracts and the one picked in the session (else the
    first): the only way a subscriber reaches rows. Computed once per request, so the
    page and the navigation share one query."""
    if not hasattr(request, "_antena_contracts"):
        user = request.user
        contracts = list(_subscriber_contracts()(user=user)) if user.is_authenticated else []
        chosen = request.session.get(SESSION_CONTRACT_KEY)
        current = next(
            (contract for contract in contracts if contract.pk == chosen),
            contracts[0] if contracts else None,
        )
        request._antena_contracts = (contracts, current)
    return request._antena_contracts
