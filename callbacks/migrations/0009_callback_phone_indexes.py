"""Two indexes on the callback's phone for the Callbacks page, on PostgreSQL only (the production database),
created with SQL of their own: Django's Index cannot say "PostgreSQL only". SQLite (the embedded local run)
gets neither: its data is small, and every extra index lengthens the writes that its table locks serialise.

- callback_phone_trgm (PostgreSQL only, pg_trgm): a partial phone search (LIKE '%4268%') need not scan the
  table, with finer statistics on the phone so that the planner knows when to take it. The btree index
  callback_phone still serves equality everywhere.
- callback_open_phone: the phones of the open callbacks only (a few percent of them), which
  the duplicate flag and the "duplicates only" filter group and look up.
"""

from django.db import migrations

# "Open" as end_state = '' (the same as state <> 'completed', by the model's check constraint): a predicate on
# state would be implied by any filter on an open state (state = 'scheduled'…), and the planner, which
# underestimates such rows, would then read them through this index instead of its better plans.
OPEN_PHONE = "CREATE INDEX IF NOT EXISTS callback_open_phone ON callbacks_callback (phone) WHERE end_state = ''"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(OPEN_PHONE)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS callback_phone_trgm ON callbacks_callback USING gin (phone gin_trgm_ops)"
    )
    # With the default 100-bucket histogram the planner guesses that any LIKE '%4268%' matches 1 % of the rows
    # and walks the created index instead (300 ms at 1M callbacks); with 1000 it sees ~0.1 % and takes the
    # trigram index (2 ms).
    schema_editor.execute("ALTER TABLE callbacks_callback ALTER COLUMN phone SET STATISTICS 1000")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS callback_open_phone")
    schema_editor.execute("DROP INDEX IF EXISTS callback_phone_trgm")
    schema_editor.execute("ALTER TABLE callbacks_callback ALTER COLUMN phone SET STATISTICS -1")


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0008_preferences_cancellation_summary"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes),
    ]
