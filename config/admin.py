from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class CallbackSupervisorAdminSite(admin.AdminSite):
    """The Django admin, for administrators' raw-data access (members of the administrators group)."""

    site_header = "Callback Supervisor — raw data"
    site_title = "Callback Supervisor admin"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user.groups.filter(name="administrators").exists())


class CallbackSupervisorAdminConfig(AdminConfig):
    default_site = "config.admin.CallbackSupervisorAdminSite"
