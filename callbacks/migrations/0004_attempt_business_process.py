"""Attempts carry their callback's business process, so the monitor reads them without joining callbacks."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_business_process(apps, schema_editor):
    Attempt = apps.get_model("callbacks", "Attempt")
    Callback = apps.get_model("callbacks", "Callback")
    Attempt.objects.update(
        business_process_id=Subquery(Callback.objects.filter(pk=OuterRef("callback_id")).values("business_process_id"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0003_monitor_thresholds"),
    ]

    operations = [
        migrations.AddField(
            model_name="attempt",
            name="business_process",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="attempts",
                to="callbacks.businessprocess",
            ),
        ),
        migrations.RunPython(fill_business_process, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="attempt",
            name="business_process",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="attempts",
                to="callbacks.businessprocess",
            ),
        ),
        migrations.AddIndex(
            model_name="attempt",
            index=models.Index(fields=["business_process", "acw_ended_at"], name="attempt_bp_acw_ended"),
        ),
    ]
