from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Subscribers get a login by claiming their contract ("Crear una cuenta").
        return False
