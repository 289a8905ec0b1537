"""The three roles of DESIGN.md "Who uses it", as Django groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MONITOR = ["callbacks.view_monitor", "callbacks.view_businessprocess", "callbacks.view_callback"]
SUPERVISOR = MONITOR + ["callbacks.manage_callbacks", "callbacks.stop_business_process"]
ROLES = {
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


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
