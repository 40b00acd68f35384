"""How a signed-in person is found again on each request."""

from allauth.account.auth_backends import AuthenticationBackend

from .selectors import login_with_contracts


class PortalAuthenticationBackend(AuthenticationBackend):
    """allauth's sign-in, with the login of a session read on every page together with its
    contracts, by a statement the ORM writes once (docs/performance.md): one query where
    `ModelBackend.get_user` and the contracts took two, each built anew."""

    def get_user(self, user_id):
        user = login_with_contracts(user_id=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
