"""Staff reach /admin/ only with TOTP: set up at the first visit, asked at every login."""

import datetime
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC)


def totp_now(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture
def staff():
    return User.objects.create_superuser("ana", "ana@example.com", PASSWORD)


def password_login(client, username="ana"):
    return client.post("/accounts/login/", {"login": username, "password": PASSWORD})


def test_staff_without_totp_is_sent_to_set_it_up(client, staff):
    with time_machine.travel(START, tick=False):
        password_login(client)
        response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/?next=/admin/"


def test_setting_up_totp_then_signing_in_with_it_opens_the_admin(client, staff):
    with time_machine.travel(START, tick=False):
        password_login(client)
        response = client.get("/accounts/2fa/totp/activate/")
        assert response["Location"].startswith("/accounts/reauthenticate/")
        client.post("/accounts/reauthenticate/", {"password": PASSWORD})
        assert client.get("/accounts/2fa/totp/activate/").status_code == 200
        secret = client.session["mfa.totp.secret"]
        response = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
        assert response.status_code == 302
        assert Authenticator.objects.filter(user=staff, type="totp").exists()
        # The session that set TOTP up did not sign in with it: sign in again.
        response = client.get("/admin/")
        assert response["Location"].startswith("/accounts/login/")
    with time_machine.travel(START + datetime.timedelta(minutes=1), tick=False):
        response = password_login(client)
        assert response["Location"] == "/accounts/2fa/authenticate/"
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(secret)})
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200


def test_a_wrong_totp_code_keeps_staff_out(client, staff):
    secret = "JBSWY3DPEHPK3PXP"
    with time_machine.travel(START, tick=False):
        TOTP.activate(staff, secret)
        password_login(client)
        right = totp_now(secret)
        wrong = "000000" if right != "000000" else "111111"
        client.post("/accounts/2fa/authenticate/", {"code": wrong})
        assert "_auth_user_id" not in client.session
        response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_session_that_skipped_totp_is_signed_out_of_the_admin(client, staff):
    TOTP.activate(staff, "JBSWY3DPEHPK3PXP")
    client.force_login(staff)  # e.g. a session from before TOTP was required
    response = client.get("/admin/")
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_local_settings_let_the_demo_admin_straight_in(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = False
    password_login(client)
    assert client.get("/admin/").status_code == 200


def test_subscribers_never_reach_the_admin(client):
    from tests.factories import UserFactory

    subscriber = UserFactory()
    client.force_login(subscriber)
    response = client.get("/admin/")
    assert response.status_code in (302, 403)
    assert client.get("/admin/accounts/contract/").status_code != 200
