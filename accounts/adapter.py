from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Subscribers get a login by claiming their contract ("Crear una cuenta").
        return False

    def authenticate(self, request, **credentials):
        """On an ISP's portal only its own subscribers sign in: another ISP's login is
        refused with the answer a wrong password gets."""
        user = super().authenticate(request, **credentials)
        portal = getattr(request, "portal", None)
        if user is not None and portal is not None and user.provider_id != portal.pk:
            self.authentication_failed(request, **credentials)
            return None
        return user
