"""The three roles of DESIGN.md "Who uses it", as Django groups with their permissions.

Created by migration 0002 and brought up to date after every `migrate` (and every flush of a test database)
by a post_migrate handler, so a permission added later reaches its groups without a hand-written migration.
"""

MONITOR = ["callbacks.view_monitor", "callbacks.view_businessprocess", "callbacks.view_callback"]
SUPERVISOR = MONITOR + ["callbacks.manage_callbacks", "callbacks.stop_business_process"]
ROLES: dict[str, list[str]] = {
    "supervisors": SUPERVISOR,
    "administrators": SUPERVISOR
    + [
        "callbacks.change_callback_timing",
        "callbacks.manage_business_processes",
        "callbacks.manage_api_tokens",
        "callbacks.view_reports",
        "callbacks.add_businessprocess",
        "callbacks.change_businessprocess",
        "callbacks.add_schedulerange",
        "callbacks.change_schedulerange",
        "callbacks.delete_schedulerange",
        "callbacks.view_schedulerange",
        "callbacks.add_scheduleexception",
        "callbacks.change_scheduleexception",
        "callbacks.delete_scheduleexception",
        "callbacks.view_scheduleexception",
        "callbacks.view_attempt",
        "callbacks.add_agent",
        "callbacks.change_agent",
        "callbacks.view_agent",
        "callbacks.view_auditentry",
        "callbacks.view_ingestedevent",
        "callbacks.view_apitoken",
        "callbacks.change_apitoken",
    ],
    "managers": MONITOR + ["callbacks.view_reports", "callbacks.view_auditentry"],
}


def sync_roles(apps) -> None:
    """Create the role groups and give each exactly its permissions (`apps`: a migration's or the real registry)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list("pk", "content_type__app_label", "codename")
    }
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([permissions[dotted] for dotted in codenames])
