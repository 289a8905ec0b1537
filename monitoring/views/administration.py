"""Administrators' pages: business processes (create, rename, deactivate) and the ingest API's tokens.

The changes themselves (validation, audit, announcement to the live monitor) are callbacks.administration's.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from django_tables2 import SingleTableMixin

from callbacks import administration
from callbacks.engine import Actor
from callbacks.models import ApiToken, BusinessProcess

from ..tables_administration import ApiTokenTable, BusinessProcessAdminTable

TIME_ZONES = sorted(zoneinfo.available_timezones())


class BusinessProcessForm(forms.Form):
    code = forms.CharField(max_length=50, help_text="What integrations send; letters, digits, . - _")
    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(choices=[(tz, tz) for tz in TIME_ZONES], initial="UTC")


class RenameForm(forms.Form):
    code = forms.CharField(max_length=50, help_text="Can change only while no callback uses it.")
    name = forms.CharField(max_length=200)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The integration that will use it, e.g. “telephony-eu”.")


def _apply(form: forms.Form, change) -> bool:
    """Run a change; its ValidationError lands on the form's fields (or above them). True when it applied."""
    try:
        change()
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)
        return False
    return True


class BusinessProcessesView(PermissionRequiredMixin, SingleTableMixin, TemplateView):
    """Every business process, active or not, with its callback count; a form to create one."""

    permission_required = "callbacks.manage_business_processes"
    template_name = "monitoring/administration/business_processes.html"
    table_class = BusinessProcessAdminTable
    table_pagination = {"per_page": 100}

    def get_table_data(self):
        return BusinessProcess.objects.annotate(callback_count=Count("callbacks")).order_by("-is_active", "name")

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(form=form or BusinessProcessForm(), **kwargs)

    def post(self, request, *args, **kwargs):
        form = BusinessProcessForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            created = []
            actor = Actor.for_user(request.user)
            if _apply(form, lambda: created.append(administration.create_business_process(**data, actor=actor))):
                messages.success(request, f"Business process {created[0].code} created, open Mon–Fri 08:00–18:00.")
                return redirect("business-process-timing", code=created[0].code)
        self.object_list = self.get_table_data()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RenameBusinessProcessView(PermissionRequiredMixin, View):
    permission_required = "callbacks.manage_business_processes"
    template_name = "monitoring/administration/rename_business_process.html"

    def dispatch(self, request, *args, **kwargs):
        self.business_process = get_object_or_404(BusinessProcess, code=kwargs["code"])
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, code):
        form = RenameForm(initial={"code": self.business_process.code, "name": self.business_process.name})
        return self.render(form)

    def post(self, request, code):
        form = RenameForm(request.POST)
        actor = Actor.for_user(request.user)
        if form.is_valid() and _apply(
            form,
            lambda: administration.rename_business_process(self.business_process.pk, **form.cleaned_data, actor=actor),
        ):
            messages.success(request, f"Business process {form.cleaned_data['code']} saved.")
            return redirect("administration-business-processes")
        return self.render(form, status=400)

    def render(self, form, status=200):
        context = {"form": form, "business_process": self.business_process}
        return TemplateResponse(self.request, self.template_name, context, status=status)


class SetActiveView(PermissionRequiredMixin, View):
    """POST: deactivate (hidden from the monitor, history kept) or reactivate a business process."""

    permission_required = "callbacks.manage_business_processes"
    active = True  # set per URL

    def post(self, request, code):
        business_process = get_object_or_404(BusinessProcess, code=code)
        try:
            administration.set_active(business_process.pk, self.active, Actor.for_user(request.user))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            done = "reactivated" if self.active else "deactivated: hidden from the monitor, its history kept"
            messages.success(request, f"Business process {business_process.code} {done}.")
        return redirect("administration-business-processes")


class ApiTokensView(PermissionRequiredMixin, SingleTableMixin, TemplateView):
    """The ingest API's tokens with their last use; issue one (its key shown once) or revoke one."""

    permission_required = "callbacks.manage_api_tokens"
    template_name = "monitoring/administration/api_tokens.html"
    table_class = ApiTokenTable
    table_pagination = {"per_page": 100}

    def get_table_data(self):
        return ApiToken.objects.order_by("revoked_at", "name")

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(form=form or TokenForm(), **kwargs)

    def post(self, request, *args, **kwargs):
        form = TokenForm(request.POST)
        issued = []
        actor = Actor.for_user(request.user)
        if form.is_valid() and _apply(
            form, lambda: issued.append(administration.issue_token(form.cleaned_data["name"], actor))
        ):
            token, key = issued[0]
            # Rendered, not redirected: the key must not travel in a URL or a stored message.
            self.object_list = self.get_table_data()
            response = self.render_to_response(self.get_context_data(issued=token, key=key))
            response["Cache-Control"] = "no-store"
            return response
        self.object_list = self.get_table_data()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RevokeTokenView(PermissionRequiredMixin, View):
    permission_required = "callbacks.manage_api_tokens"

    def post(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk)
        try:
            administration.revoke_token(token.pk, Actor.for_user(request.user))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Token {token.name} revoked: requests with it are refused from now on.")
        return redirect(reverse("administration-api-tokens"))
