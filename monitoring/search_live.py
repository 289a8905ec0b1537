"""Keeping every open Callback Search tab true: the open callbacks of a business process, pushed as they change.

The same flow as the monitor (monitoring.live), with a dirty set of its own: the engine commits →
``business_process_changed`` → ``request_push`` marks the business process dirty in Redis and, at most once per
``COALESCE_SECONDS``, enqueues ``push_dirty`` → a worker reads that business process's list (``compute``, two
queries whatever its size), compares it row by row with the list last pushed, stores the new one and sends only
the rows that changed or left, numbered, to the channel-layer group of that business process.

Messages sent to browsers (monitoring.consumers.CallbackSearchConsumer forwards them as they are):
    {"type": "snapshot", "seq": n, "computed_at": iso, "rows": [row…], "total": n, "limit": 500}
    {"type": "rows", "seq": n, "computed_at": iso, "rows": [changed row…], "removed": [callback id…],
     "total": n, "limit": 500}
where row = monitoring.tables_business_process.search_row(), keyed by its "id" (the callback's external id).
"rows" are upserts; "removed" lists the callbacks that left the list (an end state, or pushed out of the newest
``ROW_LIMIT``). ``seq`` grows by one per message of a business process; a client that sees a gap (or a smaller
number: Redis was emptied) asks for a snapshot again. A "snapshot" may also come unasked, when the stored list
had expired: it replaces everything.

Only watched lists are pushed: an open tab's socket marks its business process watched (``watch``: on connect,
and again with each ping, which the page sends every 30 s), and the mark lapses ``WATCH_SECONDS`` after the
last one. A change elsewhere costs one Redis lookup and no query. The first tab to come after a time nobody
watched gets its snapshot from the database, not the list stored before, which no push kept up to date.

Redis holds only derived data, and forgets the list of a business process nobody touched for
``SNAPSHOT_TTL_SECONDS``: the next change or the next tab opened rebuilds it from the database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from callbacks.models import BusinessProcess, Callback

from .columns import TO_BE_PROCESSED
from .live import mark_dirty, redis_client
from .tables_business_process import search_row

log = logging.getLogger(__name__)

ROW_LIMIT = 500
COALESCE_SECONDS = 0.25
SNAPSHOT_TTL_SECONDS = 15 * 60
WATCH_SECONDS = 120
KEY_PREFIX = settings.MONITOR_REDIS_PREFIX + "search:"
DIRTY = KEY_PREFIX + "dirty"  # set of business process ids whose list may have changed
SCHEDULED = KEY_PREFIX + "scheduled"  # present while a push is already on its way


def group_name(business_process_id: int) -> str:
    return f"callback-search-{business_process_id}"


def _watched_key(business_process_id: int) -> str:
    return f"{KEY_PREFIX}{business_process_id}:watched"


def _keys(business_process_id: int) -> tuple[str, str, str, str]:
    """The list as last pushed (hash: callback id → row), its meta (total, computed_at), seq, and the lock."""
    base = f"{KEY_PREFIX}{business_process_id}:"
    return base + "rows", base + "meta", base + "seq", base + "lock"


@dataclass
class Listing:
    """A business process's callbacks to be processed: the newest ``ROW_LIMIT`` as rows, and how many there are."""

    rows: list[dict]
    total: int
    computed_at: datetime


def compute(business_process: BusinessProcess, now: datetime | None = None) -> Listing:
    """The list from the database, newest entrance first: one query, and a count when the list is full."""
    open_callbacks = Callback.objects.filter(TO_BE_PROCESSED, business_process=business_process)
    newest_first = open_callbacks.select_related("owner_agent", "current_agent").order_by("-created", "external_id")
    rows = [search_row(callback, business_process) for callback in newest_first[:ROW_LIMIT]]
    total = len(rows) if len(rows) < ROW_LIMIT else open_callbacks.count()
    return Listing(rows, total, now or timezone.now())


def request_push(business_process_ids: list[int]) -> None:
    """Ask for these business processes' lists to be pushed soon; a burst of requests costs one push.

    Never raises: the Callback Search tab must not stand in the way of the event that changed the data.
    """
    from .tasks import push_callback_search

    try:
        client = redis_client()
        watched_flags = client.mget([_watched_key(business_process_id) for business_process_id in business_process_ids])
        watched = [pk for pk, flag in zip(business_process_ids, watched_flags, strict=True) if flag is not None]
        if not watched:
            return  # no tab open: nothing to push (the next tab's snapshot comes from the database)
        mark_dirty(DIRTY, SCHEDULED, watched, push_callback_search, COALESCE_SECONDS)
    except Exception:  # noqa: BLE001 — any failure here only delays the tab
        log.warning("Could not request a callback search push for business processes %s", business_process_ids)


def watch(business_process_id: int) -> bool:
    """A tab of this business process is open (its socket connected, pinged or asked for a snapshot): keep its
    list pushed for ``WATCH_SECONDS`` more. If nobody watched it until now, the stored list is forgotten, and
    the answer is True: pushes may have been missed."""
    client = redis_client()
    watched = _watched_key(business_process_id)
    lapsed = not client.exists(watched)
    if lapsed:
        rows_key, meta_key, _, _ = _keys(business_process_id)
        client.delete(rows_key, meta_key)
    client.set(watched, 1, ex=WATCH_SECONDS)
    return lapsed


def push_dirty() -> int:
    """Push the lists of the business processes marked dirty. Returns how many were looked at."""
    ids = [int(member) for member in redis_client().spop(DIRTY, 10_000) or []]
    for business_process in BusinessProcess.objects.filter(pk__in=ids, is_active=True):
        push(business_process)
    return len(ids)


def push(business_process: BusinessProcess) -> int | None:
    """Compare the list with the one last pushed, store it and send what changed; returns the seq used (None when
    nothing changed)."""
    client = redis_client()
    rows_key, meta_key, seq_key, lock_key = _keys(business_process.pk)
    # Computed under the lock, so that two workers cannot push an older list after a newer one.
    with client.lock(lock_key, timeout=30, blocking_timeout=30):
        listing = compute(business_process)
        fresh = {row["id"]: _dump(row) for row in listing.rows}
        meta = {"total": listing.total, "computed_at": listing.computed_at.isoformat()}
        stored_meta = client.get(meta_key)
        if stored_meta is None:
            changed, removed, kind = listing.rows, [], "snapshot"
        else:
            stored = {key.decode(): value.decode() for key, value in client.hgetall(rows_key).items()}
            changed = [row for row in listing.rows if stored.get(row["id"]) != fresh[row["id"]]]
            removed = sorted(set(stored) - set(fresh))
            kind = "rows"
            if not changed and not removed and json.loads(stored_meta)["total"] == listing.total:
                client.expire(meta_key, SNAPSHOT_TTL_SECONDS)
                client.expire(rows_key, SNAPSHOT_TTL_SECONDS)
                return None
        pipe = client.pipeline(transaction=True)
        if kind == "snapshot":
            pipe.delete(rows_key)
        if changed:
            pipe.hset(rows_key, mapping={row["id"]: fresh[row["id"]] for row in changed})
        if removed:
            pipe.hdel(rows_key, *removed)
        pipe.set(meta_key, json.dumps(meta))
        pipe.incr(seq_key)
        for key in (rows_key, meta_key, seq_key):
            pipe.expire(key, SNAPSHOT_TTL_SECONDS)
        seq = pipe.execute()[-4]
        message = {"type": kind, "seq": seq, **meta, "rows": changed, "limit": ROW_LIMIT}
        if kind == "rows":
            message["removed"] = removed
        _send(business_process.pk, message)
        return seq


def snapshot(business_process: BusinessProcess) -> dict:
    """The list every tab of this business process should show, as a "snapshot" message; rebuilt from the
    database when Redis no longer has it."""
    client = redis_client()
    rows_key, meta_key, seq_key, lock_key = _keys(business_process.pk)
    with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(rows_key)
        pipe.get(meta_key)
        pipe.get(seq_key)
        for key in (rows_key, meta_key, seq_key):
            pipe.expire(key, SNAPSHOT_TTL_SECONDS)
        stored_rows, stored_meta, seq = pipe.execute()[:3]
    if stored_meta is None:
        with client.lock(lock_key, timeout=30, blocking_timeout=30):
            listing = compute(business_process)
            meta = {"total": listing.total, "computed_at": listing.computed_at.isoformat()}
            pipe = client.pipeline(transaction=True)
            pipe.delete(rows_key)
            if listing.rows:
                pipe.hset(rows_key, mapping={row["id"]: _dump(row) for row in listing.rows})
            pipe.set(meta_key, json.dumps(meta))
            pipe.get(seq_key)
            for key in (rows_key, meta_key, seq_key):
                pipe.expire(key, SNAPSHOT_TTL_SECONDS)
            seq = pipe.execute()[-4]
            rows = listing.rows
    else:
        meta = json.loads(stored_meta)
        rows = [json.loads(value) for value in stored_rows.values()]
        rows.sort(key=lambda row: (-row["sort"]["created"], row["id"]))
    return {"type": "snapshot", "seq": int(seq or 0), **meta, "rows": rows, "limit": ROW_LIMIT}


def _dump(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def _send(business_process_id: int, message: dict) -> None:
    group_message = {"type": "search.message", "text": json.dumps(message)}
    async_to_sync(get_channel_layer().group_send)(group_name(business_process_id), group_message)
