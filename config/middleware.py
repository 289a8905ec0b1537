"""Middleware of the whole site."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound


class RejectNulInPathMiddleware:
    """A URL path holding a NUL character names nothing: answer 404 before any view looks it up.

    PostgreSQL text cannot hold NUL, so a lookup of ``/callbacks/a%00b/details/`` would fail in the database (a 500)
    where SQLite simply finds nothing. Query-string values go through forms, whose fields refuse NUL themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return HttpResponseNotFound("Not found.", content_type="text/plain")
        return self.get_response(request)
