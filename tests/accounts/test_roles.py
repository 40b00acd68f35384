"""Staff roles: the same groups for every ISP, the ISP from User.provider.

An ISP administrator manages their own ISP's staff with the ISP roles only: never a
superuser, never staff of another ISP, never what a role grants.
"""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from accounts.roles import (
    BILLING_ROLE,
    ISP_ADMIN_PERMISSIONS,
    ISP_ADMIN_ROLE,
    ROLES,
    SUPPORT_ROLE,
)
from core.models import AuditEntry
from core.tenancy import PLATFORM_ROLE
from tests.factories import PASSWORD, ProviderFactory, UserFactory, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]

NEW_PASSWORD = "una-clave-nueva-y-larga-2026"


@pytest.fixture
def interatos():
    return ProviderFactory(code="222", name="Interatos", handle_domain="interatos")


@pytest.fixture
def isp_admin(client, kona):
    admin = staff_of(kona, ISP_ADMIN_ROLE, username="admin@kona")
    client.force_login(admin)
    return admin


def permissions_of(role: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Permission.objects.filter(group__name=role).values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_roles_exist_in_every_database_with_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    assert permissions_of(SUPPORT_ROLE) == {
        "accounts.view_contract",
        "payments.view_payment",
        "payments.confirm_payment",
        "payments.view_paymentevent",
    }
    assert permissions_of(ISP_ADMIN_ROLE) == set(ISP_ADMIN_PERMISSIONS)
    assert "billing.add_invoice" in permissions_of(BILLING_ROLE)
    assert "accounts.add_user" not in permissions_of(BILLING_ROLE)
    # No ISP role can touch the roles themselves or make a superuser.
    for role in (ISP_ADMIN_ROLE, BILLING_ROLE, SUPPORT_ROLE):
        assert not permissions_of(role) & {"auth.change_group", "auth.add_group"}
    assert "auth.change_group" in permissions_of(PLATFORM_ROLE)


def test_an_isp_administrator_creates_staff_for_their_own_isp_only(
    client, isp_admin, kona, interatos
):
    # when: the form is posted with another ISP and superuser status slipped in
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "cajera@kona",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "provider": interatos.pk,
            "is_superuser": "on",
        },
    )

    # then
    created = User.objects.get(username="cajera@kona")
    assert response.status_code == 302
    assert (created.provider, created.is_superuser) == (kona, False)
    assert AuditEntry.objects.filter(
        action="admin.created", object_id=str(created.pk), actor=isp_admin
    ).exists()


def test_an_isp_administrator_gives_only_the_isp_roles(client, isp_admin, kona):
    # given
    clerk = staff_of(kona, username="cajera@kona")
    url = f"/admin/accounts/user/{clerk.pk}/change/"
    form = client.get(url).text
    platform = Group.objects.get(name=PLATFORM_ROLE)
    assert "is_superuser" not in form and "user_permissions" not in form
    assert f'value="{platform.pk}"' not in form

    def change(groups):
        return client.post(
            url,
            {
                "username": clerk.username,
                "phone": clerk.phone,
                "is_active": "on",
                "is_staff": "on",
                "groups": [group.pk for group in groups],
            },
        )

    # when: the platform role is refused, a billing role is given
    refused = change([platform])
    given = change([Group.objects.get(name=BILLING_ROLE)])

    # then
    assert refused.status_code == 200
    assert "Escoja una opción válida" in refused.text
    assert given.status_code == 302
    assert list(clerk.groups.values_list("name", flat=True)) == [BILLING_ROLE]
    assert clerk.provider == kona
    entry = AuditEntry.objects.get(action="admin.changed", object_id=str(clerk.pk))
    assert entry.changes == {"groups": ["", BILLING_ROLE]}
    assert entry.actor == isp_admin


def test_an_isp_administrator_cannot_reach_superusers_or_another_isps_staff(
    client, isp_admin, kona, interatos
):
    # A superuser, even one with the ISP set on the login, is platform staff.
    superuser = User.objects.create_superuser("raiz", "raiz@example.com", PASSWORD, provider=kona)
    other_staff = staff_of(interatos, ISP_ADMIN_ROLE, username="admin-interatos")
    listing = client.get("/admin/accounts/user/").text

    for user in (superuser, other_staff):
        assert user.username not in listing
        assert client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 404
        response = client.post(
            f"/admin/accounts/user/{user.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
        assert response.status_code == 404
        user.refresh_from_db()
        assert not user.check_password(NEW_PASSWORD)


def test_roles_are_read_only_in_the_admin(client, isp_admin):
    group = Group.objects.get(name=SUPPORT_ROLE)
    before = set(group.permissions.values_list("pk", flat=True))

    page = client.get(f"/admin/auth/group/{group.pk}/change/")
    changed = client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {
            "name": SUPPORT_ROLE,
            "permissions": list(Permission.objects.values_list("pk", flat=True)),
        },
    )
    added = client.post("/admin/auth/group/add/", {"name": "Mis permisos"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert changed.status_code == 403
    assert added.status_code == 403
    assert set(group.permissions.values_list("pk", flat=True)) == before
    assert not Group.objects.filter(name="Mis permisos").exists()


def test_even_platform_staff_cannot_change_a_role_but_may_make_other_groups(client):
    platform = staff_of(None, PLATFORM_ROLE, username="plataforma")
    client.force_login(platform)
    role = Group.objects.get(name=BILLING_ROLE)

    assert client.post(f"/admin/auth/group/{role.pk}/change/", {"name": "x"}).status_code == 403
    assert client.post("/admin/auth/group/add/", {"name": "Auditores"}).status_code == 302
    assert Group.objects.filter(name="Auditores").exists()


def test_an_isp_administrator_edits_the_branding_of_their_isp_only(
    client, isp_admin, kona, interatos
):
    # when
    response = client.post(
        f"/admin/accounts/provider/{kona.pk}/change/",
        {
            "name": "KONA Internet",
            "code": "999",
            "handle_domain": "otra",
            "brand_color": "#c62828",
            "support_phone": "5511647608",
            "promise_days": 3,
            "promises_per_period": 1,
            "grace_days": 0,
            "billing_day": 1,
            "invoice_due_days": 10,
            "second_due_days": 0,
            "second_due_surcharge": "0.00",
            "suspend_after_days": 10,
        },
    )

    # then: the name changes, what subscribers type does not
    kona.refresh_from_db()
    assert response.status_code == 302, response.text
    assert (kona.name, kona.code, kona.handle_domain, kona.brand_color) == (
        "KONA Internet",
        "111",
        "kona",
        "#c62828",
    )
    assert client.get(f"/admin/accounts/provider/{interatos.pk}/change/").status_code == 404
    assert client.get("/admin/accounts/provider/add/").status_code == 403
    entry = AuditEntry.objects.get(action="admin.changed", object_id=str(kona.pk))
    assert entry.changes["name"] == ["KONA", "KONA Internet"]
    assert entry.provider == kona


def test_a_platform_staff_member_sees_every_isp(client, kona, interatos):
    client.force_login(staff_of(None, PLATFORM_ROLE, username="plataforma"))

    listing = client.get("/admin/accounts/provider/").text

    assert "KONA" in listing and "Interatos" in listing


def test_a_platform_role_holder_with_an_isp_acts_on_that_isp_only(client, kona, interatos):
    client.force_login(staff_of(kona, PLATFORM_ROLE, username="plataforma-kona"))

    listing = client.get("/admin/accounts/provider/").text

    assert "KONA" in listing and "Interatos" not in listing


def test_a_subscriber_holding_a_role_by_mistake_still_cannot_enter_the_admin(client, kona):
    subscriber = UserFactory(provider=kona, username="juan@kona")
    subscriber.groups.add(Group.objects.get(name=ISP_ADMIN_ROLE))
    client.force_login(subscriber)

    response = client.get("/admin/accounts/contract/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "username", ["abonado@interatos", "staff-interatos", "nadie@interatos", "@kona", "kona"]
)
def test_an_isp_administrator_names_logins_only_in_their_isps_handles(
    client, isp_admin, interatos, username
):
    """«ya existe» for another ISP's login would tell which logins that ISP has."""
    UserFactory(provider=interatos, username="abonado@interatos")
    staff_of(interatos, ISP_ADMIN_ROLE, username="staff-interatos")

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": username,
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert "La cuenta debe terminar en @kona, p. ej. maria@kona." in response.text
    assert "ya existe" not in response.text
    assert not User.objects.filter(username=username, provider__code="111").exists()
    assert not User.objects.filter(username="nadie@interatos").exists()


def test_an_isp_administrator_never_sees_a_superusers_second_factor(client, isp_admin, kona):
    from allauth.mfa.models import Authenticator

    superuser = User.objects.create_superuser("raiz", "raiz@example.com", PASSWORD, provider=kona)
    factor = Authenticator.objects.create(user=superuser, type="totp", data={"secret": "x"})

    assert "raiz" not in client.get("/admin/accounts/secondfactor/").text
    assert client.get(f"/admin/accounts/secondfactor/{factor.pk}/change/").status_code == 404
    client.post(f"/admin/accounts/secondfactor/{factor.pk}/delete/", {"post": "yes"})
    assert Authenticator.objects.filter(pk=factor.pk).exists()


def test_an_isp_administrator_cannot_point_a_gateway_elsewhere(client, isp_admin, kona):
    from payments.models import GatewayAccount

    account = GatewayAccount.objects.create(provider=kona, gateway="oxxopay")

    response = client.post(
        f"/admin/payments/gatewayaccount/{account.pk}/change/",
        {
            "provider": kona.pk,
            "gateway": "oxxopay",
            "is_enabled": "on",
            "expiry_days": 3,
            "base_url": "http://169.254.169.254/",
        },
    )

    account.refresh_from_db()
    assert response.status_code == 302
    assert account.base_url == ""


@pytest.mark.parametrize(
    ("colour", "message"),
    [
        ("#ffeb3b", "contraste 1.2:1"),  # yellow: white text unreadable
        ("#ff0000", "contraste 4.0:1"),
        ("red;}a", "Escribe el color como #rrggbb"),
    ],
)
def test_a_brand_colour_white_text_cannot_be_read_on_is_refused(
    client, isp_admin, kona, colour, message
):
    response = client.post(
        f"/admin/accounts/provider/{kona.pk}/change/",
        {
            "name": "KONA",
            "brand_color": colour,
            "promise_days": 3,
            "promises_per_period": 1,
            "grace_days": 0,
            "billing_day": 1,
            "invoice_due_days": 10,
            "second_due_days": 0,
            "second_due_surcharge": "0.00",
            "suspend_after_days": 10,
        },
    )

    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["brand_color"])
    kona.refresh_from_db()
    assert kona.brand_color != colour
