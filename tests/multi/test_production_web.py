"""The Procfile's web line as deployed: production settings by default, behind a proxy that probes over plain
HTTP and says HTTPS in X-Forwarded-Proto."""

import http.client
import json

import pytest

pytestmark = pytest.mark.slow


def request(port: int, path: str, **headers) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": "callbacks.example.com", **headers})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_health_probe_over_plain_http_while_everything_else_goes_to_https(production_web):
    port = production_web.web_ports[0]

    probe = request(port, "/healthz?checks=database,redis")
    assert probe.status == 200
    assert json.loads(probe.body) == {"status": "ok", "database": "ok", "redis": "ok"}

    page = request(port, "/login/")
    assert page.status == 301 and page.getheader("Location") == "https://callbacks.example.com/login/"

    # Through the proxy (HTTPS said in X-Forwarded-Proto): HSTS, as production settings want.
    proxied = request(port, "/healthz?checks=database", **{"X-Forwarded-Proto": "https"})
    assert proxied.status == 200
    assert proxied.getheader("Strict-Transport-Security", "").startswith("max-age=31536000")

    assert request(port, "/healthz", Host="elsewhere.example.org").status == 400  # ALLOWED_HOSTS
