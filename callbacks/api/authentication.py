from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from ..models import ApiToken

# Recording each use would turn every ingest request into a write on the token row; once a minute is enough.
LAST_USE_PRECISION = timedelta(minutes=1)


class Integration:
    """The request.user of an API call: the integration that holds the token."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self) -> str:
        return f"api:{self.token.name}"


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, checked against the stored hash of an unrevoked ApiToken."""

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USE_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return Integration(token), token
