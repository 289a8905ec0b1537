"""Who may do what, on every URL: each caller (anonymous, manager, supervisor, administrator, API token) × each
route of tests/security/routes.py gets the status the table says; a refused write changes nothing; a missing
object is 404; a per-user object (report download, cancellation summary) is 404 to anyone but its owner, and its
data never shows. The URL patterns are read from Django's resolver: a new URL without a row here fails."""

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from callbacks import engine
from callbacks.models import ApiToken, BusinessProcess, Callback, CancellationSummary
from callbacks.timing import timing_version
from monitoring.models import ReportExport

from .routes import CALLERS, ROUTES, Route

MODELS_WATCHED = [*apps.get_app_config("callbacks").get_models(), *apps.get_app_config("monitoring").get_models()]


def url_patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(route, name, namespace) of every URL pattern, through includes."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name, namespace


def database_state() -> dict:
    """Every row of the product's tables: what a refused request must leave as it was."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS_WATCHED}


@dataclass
class World:
    sales: BusinessProcess
    stopped: BusinessProcess
    inactive: BusinessProcess
    pending: Callback
    completed: Callback
    victim_token: ApiToken
    token_key: str
    timing_version: int
    user: User  # the caller, or for anonymous and token callers someone else

    def export_of(self, user: User) -> ReportExport:
        export = ReportExport.objects.create(
            user=user,
            report="completed-callbacks",
            format="csv",
            total=1,
            done=1,
            state=ReportExport.State.DONE,
            finished_at=timezone.now(),
        )
        settings.REPORT_EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        export.path.write_text(f"secret-of-{user.username}\n")
        return export

    def summary_of(self, user: User) -> CancellationSummary:
        return CancellationSummary.objects.create(user=user, rows=[{"external_id": f"secret-of-{user.username}"}])


@pytest.fixture
def world(make_business_process, make_user, events, tmp_path, settings) -> World:
    settings.REPORT_EXPORT_DIR = tmp_path / "exports"
    sales = make_business_process("SALES")
    stopped = make_business_process("PAUSED")
    engine.set_stopped(stopped.pk, True, engine.Actor("tests"))
    inactive = make_business_process("OLD", is_active=False)
    assert (
        events.request("cb-pending", desired_time=(timezone.now() + timedelta(hours=1)).isoformat()).status_code == 201
    )
    assert events.request("cb-done").status_code == 201
    assert events.cancel("cb-done").status_code == 201
    victim, _ = ApiToken.issue("victim")
    token, key = ApiToken.issue("matrix")
    # The token's use is recorded once a minute: recorded now, so that its requests below write nothing.
    ApiToken.objects.update(last_used_at=timezone.now())
    return World(
        sales=sales,
        stopped=stopped,
        inactive=inactive,
        pending=Callback.objects.get(external_id="cb-pending"),
        completed=Callback.objects.get(external_id="cb-done"),
        victim_token=victim,
        token_key=key,
        timing_version=timing_version(sales.pk),
        user=make_user("administrators", "someone"),
    )


def client_for(caller: str, world: World, make_user, username: str | None = None) -> Client:
    if caller == "token":
        return Client(headers={"Authorization": f"Token {world.token_key}"})
    client = Client()
    if caller != "anonymous":
        world.user = make_user(caller, username or f"{caller}-user")
        client.force_login(world.user)
    return client


def send(client: Client, route: Route, kwargs: dict, world: World):
    url = reverse(route.name, kwargs=kwargs)
    data = route.data(world)
    if route.method == "get":
        return client.get(url, data)
    if route.json:
        return client.post(url, json.dumps(data or {}), content_type="application/json")
    return client.post(url, data or {})


def route_id(route: Route) -> str:
    return f"{route.method.upper()} {route.name}"


def test_every_url_has_its_row_in_the_table():
    named = {name for _, name, namespace in url_patterns() if namespace != "admin"}
    unnamed = [route for route, name, namespace in url_patterns() if not name and namespace != "admin"]
    assert not unnamed, f"name these URL patterns, then give them a row in tests/security/routes.py: {unnamed}"
    covered = {route.name for route in ROUTES}
    assert named - covered == set(), "URLs without a row in tests/security/routes.py (who may use them?)"
    assert covered - named == set(), "rows of tests/security/routes.py for URLs that no longer exist"
    for route in ROUTES:
        assert set(route.expect) == set(CALLERS), route_id(route)
        parameters = {
            part for pattern, name, _ in url_patterns() if name == route.name for part in pattern.split("<")[1:]
        }
        if parameters:
            assert route.missing is not None, f"{route_id(route)} takes an id: say how to name a missing one"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_each_caller_gets_what_the_table_says(route, caller, world, make_user):
    client = client_for(caller, world, make_user)
    kwargs = route.kwargs(world)
    before = database_state()

    response = send(client, route, kwargs, world)

    expected = route.expect[caller]
    assert response.status_code == expected, (route_id(route), caller, response.content[:300])
    if expected == 302 and route.expect["anonymous"] == 302 and caller in ("anonymous", "token"):
        assert response["Location"].startswith(reverse("login")), "sent to the login page"
    if route.writes:
        changed = database_state() != before
        if expected >= 400 or (expected == 302 and caller in ("anonymous", "token")):
            assert not changed, f"{route_id(route)} refused to {caller} changed the database"
        else:
            assert changed, f"{route_id(route)} allowed to {caller} changed nothing: is the table's request right?"


@pytest.mark.parametrize("route", [route for route in ROUTES if route.missing], ids=route_id)
def test_a_missing_object_is_404(route, world, make_user):
    caller = next(caller for caller in ["administrators", "token", "supervisors"] if route.expect[caller] < 400)
    client = client_for(caller, world, make_user)
    before = database_state()

    response = send(client, route, route.missing, world)

    assert response.status_code == 404, (route_id(route), response.content[:300])
    assert database_state() == before


@pytest.mark.parametrize("route", [route for route in ROUTES if route.owned], ids=route_id)
def test_another_users_object_is_404_and_never_shown(route, world, make_user):
    role = next(role for role in ["managers", "supervisors", "administrators"] if route.expect[role] == 200)
    owner = client_for(role, world, make_user, "owner")
    kwargs = route.kwargs(world)  # the object of "owner"
    assert send(owner, route, kwargs, world).status_code == 200, "its owner sees it"

    for other_role in ["managers", "supervisors", "administrators"]:
        if route.expect[other_role] >= 400:
            continue
        other = client_for(other_role, world, make_user, f"other-{other_role}")
        response = send(other, route, kwargs, world)
        assert response.status_code == 404, (route_id(route), other_role)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"secret-of-owner" not in body and str(kwargs["pk"]).encode() not in body


def test_a_session_post_without_its_csrf_token_is_refused(world, make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("supervisors"))
    before = database_state()

    api = client.post(
        reverse("api-callback-purge", kwargs={"external_id": "cb-pending"}), content_type="application/json"
    )
    page = client.post(reverse("callback-bulk-cancel"), {"selection": "ids", "id": [str(world.pending.pk)]})

    assert (api.status_code, page.status_code) == (403, 403)
    assert "CSRF" in api.json()["detail"]
    assert database_state() == before


ADMIN_SITE_SAMPLES = ["admin:index", "admin:callbacks_callback_changelist", "admin:auth_user_changelist"]


@pytest.mark.parametrize("caller", CALLERS)
def test_the_django_admin_is_for_administrators_only(caller, world, make_user):
    admin_routes = {name for _, name, namespace in url_patterns() if namespace == "admin"}
    assert set(ADMIN_SITE_SAMPLES) <= {f"admin:{name}" for name in admin_routes}
    client = client_for(caller, world, make_user)
    for name in ADMIN_SITE_SAMPLES:
        response = client.get(reverse(name))
        if caller == "administrators":
            assert response.status_code in (200, 403), name  # 403: a model administrators may not see
        else:
            assert response.status_code == 302 and "/login/" in response["Location"], (name, caller)
    # An object page of the admin: another role never gets it, even knowing its id.
    response = client.get(reverse("admin:callbacks_callback_change", args=[world.pending.pk]))
    if caller != "administrators":
        assert response.status_code == 302 and world.pending.phone not in response.content.decode()


def test_ids_are_not_guessable_where_objects_belong_to_users():
    """Report downloads and cancellation summaries are named by random UUIDs, not by counters."""
    for model in (ReportExport, CancellationSummary):
        assert isinstance(model._meta.pk.get_default(), uuid.UUID), model.__name__
