"""Production settings, loaded in a fresh process with a production environment: `check --deploy` finds nothing
to warn about; they refuse to start without a real SECRET_KEY; every secret and address comes from the
environment; the security headers are on the answers."""

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings

from callbacks.api.throttling import parse_rate

MANAGE = str(settings.BASE_DIR / "manage.py")
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "callbacks.example.com,callbacks-2.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://callbacks.example.com",
    "DATABASE_URL": "postgres://cb_user:db-secret@db.example.com:5433/callbacks_prod",
    "REDIS_URL": "redis://:redis-secret@redis.example.com:6380/2",
}
SHOWN = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "secret_key": s.SECRET_KEY,
    "debug": s.DEBUG,
    "allowed_hosts": s.ALLOWED_HOSTS,
    "csrf_trusted_origins": s.CSRF_TRUSTED_ORIGINS,
    "database": [db["ENGINE"], db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]],
    "redis": s.REDIS_URL,
    "broker": s.CELERY_BROKER_URL,
    "channel_layer": s.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
    "hsts": [s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD],
    "cookies": [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY],
    "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "csp": s.CONTENT_SECURITY_POLICY["DIRECTIVES"],
    "rates": s.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "axes": [s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds()],
}))
"""


def run(args: list[str], **environment) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCTION and not key.startswith("AXES_")}
    env.update({key: value for key, value in environment.items() if value is not None})
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )


def shown(**environment) -> dict:
    result = run(["-c", SHOWN], **{**PRODUCTION, **environment})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_finds_nothing():
    result = run([MANAGE, "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_a_secret_key_production_refuses_to_start():
    for missing in (None, "", "too-short"):
        result = run([MANAGE, "check"], **{**PRODUCTION, "SECRET_KEY": missing})
        assert result.returncode != 0
        assert "ImproperlyConfigured: SECRET_KEY must be set" in result.stderr


def test_every_secret_and_address_comes_from_the_environment():
    values = shown()
    assert values["secret_key"] == PRODUCTION["SECRET_KEY"]
    assert values["debug"] is False
    assert values["allowed_hosts"] == ["callbacks.example.com", "callbacks-2.example.com"]
    assert values["csrf_trusted_origins"] == ["https://callbacks.example.com"]
    assert values["database"] == [
        "django.db.backends.postgresql",
        "db.example.com",
        5433,
        "callbacks_prod",
        "cb_user",
        "db-secret",
    ]
    assert values["redis"] == values["broker"] == PRODUCTION["REDIS_URL"]
    assert values["channel_layer"] == [PRODUCTION["REDIS_URL"]]


def test_debug_stays_off_in_production_whatever_the_environment_says():
    assert shown(DEBUG="1")["debug"] is False


def test_https_only_with_hsts_secure_cookies_and_a_strict_policy():
    values = shown()
    assert values["hsts"] == [365 * 24 * 3600, True, True]
    assert values["cookies"] == [True, True, True]
    assert values["ssl_redirect"] is True
    csp = values["csp"]
    for directive in ("default-src", "script-src", "style-src", "connect-src"):
        assert csp[directive] == ["'self'"], directive
    assert csp["object-src"] == csp["frame-ancestors"] == ["'none'"]


def test_the_limits_are_tunable_and_the_token_rate_carries_the_ingest_load():
    defaults = shown()
    requests, seconds = parse_rate(defaults["rates"]["token"])
    assert requests / seconds >= 2 * 200, "200 events/s from one token (DESIGN.md), one per request, with headroom"
    assert defaults["axes"] == [5, 15 * 60]
    tuned = shown(API_RATE_TOKEN="50/s", API_RATE_ANON="10/min", AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60")
    assert (tuned["rates"]["token"], tuned["rates"]["anon"]) == ("50/s", "10/min")
    assert tuned["axes"] == [3, 3600]


def test_the_headers_are_on_every_answer(client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_only_the_api_docs_page_allows_its_inline_style(client):
    docs = client.get("/api/v1/docs/")
    assert "style-src 'self' 'unsafe-inline'" in docs["Content-Security-Policy"]
    assert "script-src 'self';" in docs["Content-Security-Policy"] + ";"
    assert "<script>" not in docs.content.decode(), "Swagger UI's start script comes from a URL of its own"
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
