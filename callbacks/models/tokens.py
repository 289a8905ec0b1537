import hashlib
import secrets

from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A token the telephony platform or an agent desktop uses on the ingest API. Only its hash is stored."""

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise a token.")
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, name: str) -> tuple["ApiToken", str]:
        """Create a token and return it with its key, which is shown this once and never stored."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(name=name, key_hash=cls.hash_key(key), prefix=key[:8])
        return token, key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
