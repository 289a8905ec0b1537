"""A trigram index on the callback's phone, so that a partial phone search (LIKE '%4268%') need not scan.

PostgreSQL only (pg_trgm); on SQLite this migration does nothing. The index is not declared on the model
because Django's Index cannot say "PostgreSQL only"; the btree index callback_phone still serves equality
and prefix searches everywhere.
"""

from django.db import migrations


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS callback_phone_trgm ON callbacks_callback USING gin (phone gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS callback_phone_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0005_preferences_cancellation_summary"),
    ]

    operations = [
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
