"""What the reports ask of the database beyond their queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@contextmanager
def without_jit(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """PostgreSQL's JIT compiler takes on a report's aggregates over a month of attempts (their estimated cost
    is high) and spends 1–2 s compiling them, more than it saves: off for the block, then set back (SET LOCAL
    alone would last to the end of an enclosing transaction). Nothing on other databases."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        previous = cursor.fetchone()[0]
        yield
        cursor.execute("SELECT set_config('jit', %s, true)", [previous])
