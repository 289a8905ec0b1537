"""What a locked-out login sees (django-axes, AXES_LOCKOUT_CALLABLE): the login page again, with why and for how
long, answering 429 — not an error page. The lockout itself is recorded by axes (database and log)."""

import logging
import math

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.template.response import TemplateResponse

log = logging.getLogger(__name__)


def client_address(request) -> str:
    """The caller's address: the peer's, or behind TRUSTED_PROXY_COUNT proxies the one the first of them saw
    (DRF's throttles read it the same way, with NUM_PROXIES)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if settings.TRUSTED_PROXY_COUNT and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(settings.TRUSTED_PROXY_COUNT, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")


def lockout_message() -> str:
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (
        f"Too many failed logins for this username from your address. Logging in is locked for {minutes} "
        f"minute{'s' if minutes != 1 else ''}; try again later, or ask an administrator to unlock it."
    )


def lockout_response(request, original_response=None, credentials=None):
    # axes's async middleware passes (request, credentials): neither argument is needed here.
    username = request.POST.get("username", "")
    log.warning("Login locked out: username %r from %s", username, client_address(request))
    form = AuthenticationForm(request, initial={"username": username})
    response = TemplateResponse(
        request,
        "registration/login.html",
        {"form": form, "lockout_message": lockout_message(), "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response.render()
