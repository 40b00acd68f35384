"""How a signed-in person is found again on each request."""

from allauth.account.auth_backends import AuthenticationBackend

from core.queries import Param, Prepared

from .models import User

_USER_BY_ID = Prepared(lambda: User.objects.filter(pk=Param("user")))


class PortalAuthenticationBackend(AuthenticationBackend):
    """allauth's sign-in, with the login of a session read on every page by a statement
    the ORM writes once (docs/performance.md): what `ModelBackend.get_user` does, a third
    of its cost."""

    def get_user(self, user_id):
        for user in _USER_BY_ID.list(user=user_id):
            return user if self.user_can_authenticate(user) else None
        return None
