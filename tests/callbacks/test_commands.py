from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from callbacks.models import ApiToken


def test_create_api_token_prints_a_working_token_once(db):
    out = StringIO()
    call_command("create_api_token", "telephony", stdout=out)
    key = out.getvalue().strip()

    token = ApiToken.objects.get(name="telephony")
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/callbacks/unknown/").status_code == 404
    assert ApiToken.objects.get(name="telephony").last_used_at is not None


def test_create_api_token_refuses_a_name_in_use(db):
    call_command("create_api_token", "telephony", stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_token", "telephony", stdout=StringIO())
    assert ApiToken.objects.count() == 1


def test_the_openapi_schema_validates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/events/" in schema and "attempt.wrapup_completed" in schema


def test_the_models_and_their_migrations_agree(db):
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())
