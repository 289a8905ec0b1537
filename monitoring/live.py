"""Keeping every open monitor true: coalesced recompute requests, the last pushed snapshot, and the push.

Flow: the engine commits → ``business_process_changed`` → ``request_recompute`` marks the business process
dirty in Redis and, at most once per ``COALESCE_SECONDS``, enqueues ``recompute_dirty`` → a worker computes
those rows (monitoring.columns), compares them with the snapshot last pushed, stores the new snapshot and
sends only the changed rows, numbered, to the channel-layer group ``monitor``. Time changes rows too: a
schedule opening or closing and a new shift are recorded by the timers (``engine.apply_schedule_changes``,
every second) and announced like any change; a cheap check every two seconds looks for business processes that
came or went and beats a heartbeat. The safety net recomputes every business process once a minute, a tenth of
them every six seconds.

Messages sent to browsers (the consumer forwards them as they are):
    {"type": "snapshot", "seq": n, "computed_at": iso, "rows": [row…], "totals": row}
    {"type": "rows", "seq": n, "computed_at": iso, "rows": [changed row…], "removed": [code…], "totals": row}
    {"type": "heartbeat", "seq": n, "computed_at": iso}
where row = monitoring.columns.Row.as_message(). ``seq`` grows by one per "rows" message; a client that sees
a gap (or a smaller number: Redis was emptied) asks for a snapshot again.

Redis holds only derived data: lose it and the next recompute rebuilds everything from the database.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from callbacks.models import BusinessProcess

from .columns import Monitor, Row, compute_rows, totals

log = logging.getLogger(__name__)

GROUP = "monitor"
COALESCE_SECONDS = 0.25
KEY_PREFIX = settings.MONITOR_REDIS_PREFIX
DIRTY = KEY_PREFIX + "dirty"  # set of business process ids waiting for a recompute
SCHEDULED = KEY_PREFIX + "scheduled"  # present while a recompute is already on its way
SNAPSHOT = KEY_PREFIX + "snapshot"  # hash: code → the row as last pushed (message + the sums behind totals)
TOTALS = KEY_PREFIX + "totals"  # the sums of every row of SNAPSHOT, kept with it, so a push reads only its rows
SEQ = KEY_PREFIX + "seq"
COMPLETE = KEY_PREFIX + "complete"  # present once a full recompute filled the snapshot (gone if Redis was emptied)
PUSH_LOCK = KEY_PREFIX + "push-lock"
SAFETY_NET_TURN = KEY_PREFIX + "safety-net-turn"  # counts the safety net's runs: which share is next
SUMMED = ("proc", "reached", "to_be_processed", "purged", "handled_attempts", "handle_seconds")  # behind totals

_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    return _client


def request_recompute(business_process_ids: list[int]) -> None:
    """Ask for these business processes' rows to be recomputed soon; a burst of requests costs one recompute.

    Never raises: the monitor must not stand in the way of the event that changed the data. Should Redis be
    unreachable, the periodic full recompute brings the monitors back in line.
    """
    from .tasks import recompute_dirty

    try:
        mark_dirty(DIRTY, SCHEDULED, business_process_ids, recompute_dirty, COALESCE_SECONDS)
    except Exception:  # noqa: BLE001 — any failure here only delays the monitor
        log.warning("Could not request a monitor recompute for %s", business_process_ids, exc_info=True)


def mark_dirty(dirty: str, scheduled: str, business_process_ids: list[int], task, coalesce_seconds: float) -> None:
    """Add the ids to the ``dirty`` set and, unless a run is already on its way (``scheduled``), send ``task`` to
    read it ``coalesce_seconds`` from now: a burst of changes costs one run. Raises if Redis does."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.sadd(dirty, *business_process_ids)
    pipe.set(scheduled, 1, nx=True, px=int(coalesce_seconds * 1000))
    if pipe.execute()[1]:
        task.apply_async(countdown=coalesce_seconds)


def recompute_dirty() -> int:
    """Recompute the business processes marked dirty, and push what changed. Returns how many were recomputed."""
    client = redis_client()
    ids = [int(member) for member in client.spop(DIRTY, 10_000) or []]
    if not ids:
        return 0
    if not client.exists(COMPLETE):
        # A snapshot made of partial recomputes would show monitors only the business processes with events.
        recompute_all()
    else:
        push(compute_rows(business_process_ids=ids), complete=False)
    return len(ids)


def recompute_all() -> None:
    """Recompute every business process and push what changed (or a heartbeat when nothing did)."""
    push(compute_rows(), complete=True)


def recompute_share() -> None:
    """The safety net, mending whatever an event failed to announce: each run recomputes the next of
    ``MONITOR_SAFETY_NET_SHARES`` shares of the business processes, so each is recomputed once per that many runs.

    Recomputing all of them at once costs the same, but as one burst (1.5 s of a busy worker and database with a
    thousand business processes) that the events arriving meanwhile wait behind.
    """
    client = redis_client()
    if not client.exists(COMPLETE):
        recompute_all()
        return
    shares = settings.MONITOR_SAFETY_NET_SHARES
    turn = client.incr(SAFETY_NET_TURN) % shares
    active = BusinessProcess.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    if share := list(active)[turn::shares]:
        push(compute_rows(business_process_ids=share), complete=False)


def refresh_time_driven() -> None:
    """What nothing else announces: a business process came or went (only a complete push can say so); else a
    heartbeat. (Schedule openings and closings and new shifts are the timers' to record and announce.)
    """
    client = redis_client()
    if not client.exists(COMPLETE):
        recompute_all()
        return
    shown = {code.decode() for code in client.hkeys(SNAPSHOT)}
    if shown != set(BusinessProcess.objects.filter(is_active=True).values_list("code", flat=True)):
        recompute_all()
    else:
        heartbeat(timezone.now())


def heartbeat(now: datetime) -> None:
    """Tell the monitors that all is well and up to date: the seq of the last rows message, and the time.

    Sent under the push lock, as every message is: a heartbeat that overtook (or trailed) the rows message of its
    seq would make every monitor see a gap and ask for a snapshot.
    """
    client = redis_client()
    with client.lock(PUSH_LOCK, timeout=30, blocking_timeout=30):
        seq = int(client.get(SEQ) or 0)
        _send({"type": "heartbeat", "seq": seq, "computed_at": now.isoformat()})


def push(monitor: Monitor, *, complete: bool) -> int | None:
    """Compare with the snapshot last pushed, store the new one and send the changed rows; returns the seq used.

    ``complete``: the monitor holds every active business process, so rows missing from it were removed.
    """
    client = redis_client()
    with client.lock(PUSH_LOCK, timeout=30, blocking_timeout=30):
        codes = [row.code for row in monitor.rows]
        sums = _load_json(client.get(TOTALS))
        if complete or sums is None:
            stored = {code.decode(): json.loads(value) for code, value in client.hgetall(SNAPSHOT).items()}
        else:  # only the rows pushed now: the totals move by their differences
            values = client.hmget(SNAPSHOT, codes) if codes else []
            stored = {code: json.loads(value) for code, value in zip(codes, values, strict=True) if value}
        entries = {row.code: _stored(row) for row in monitor.rows}  # each row's message, formatted once
        changed = [code for code, entry in entries.items() if _newer_and_different(entry, stored.get(code))]
        removed = sorted(set(stored) - set(codes)) if complete else []
        if not changed and not removed:
            seq = int(client.get(SEQ) or 0)
            if complete:
                client.set(COMPLETE, 1)
                _send({"type": "heartbeat", "seq": seq, "computed_at": monitor.computed_at.isoformat()})
            return seq
        if complete or sums is None:
            for code in changed:
                stored[code] = entries[code]
            for code in removed:
                stored.pop(code)
            sums = _sum(entry["sums"] for entry in stored.values())
        else:
            for code in changed:
                before = stored.get(code, {}).get("sums", {})
                sums = {key: value + entries[code]["sums"][key] - before.get(key, 0) for key, value in sums.items()}
        total_row = totals([Row(code="", name="", **sums)], monitor.computed_at)
        pipe = client.pipeline(transaction=True)
        if changed:
            pipe.hset(SNAPSHOT, mapping={code: json.dumps(entries[code]) for code in changed})
        if removed:
            pipe.hdel(SNAPSHOT, *removed)
        pipe.set(TOTALS, json.dumps(sums))
        pipe.set(KEY_PREFIX + "computed_at", monitor.computed_at.isoformat())
        if complete:
            pipe.set(COMPLETE, 1)
        pipe.incr(SEQ)
        seq = pipe.execute()[-1]
        _send(
            {
                "type": "rows",
                "seq": seq,
                "computed_at": monitor.computed_at.isoformat(),
                "rows": [entries[code]["message"] for code in changed],
                "removed": removed,
                "totals": total_row.as_message(),
            }
        )
        return seq


def snapshot() -> dict:
    """The full state every monitor should show, as a "snapshot" message; rebuilt from the database if need be."""
    client = redis_client()
    if not client.exists(COMPLETE):
        recompute_all()
    with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(SNAPSHOT)
        pipe.get(SEQ)
        pipe.get(KEY_PREFIX + "computed_at")
        stored_rows, seq, computed_at = pipe.execute()
    stored = {code.decode(): json.loads(value) for code, value in stored_rows.items()}
    computed = datetime.fromisoformat(computed_at.decode()) if computed_at else timezone.now()
    rows = sorted(stored.values(), key=lambda s: (s["message"]["name"].lower(), s["message"]["code"]))
    return {
        "type": "snapshot",
        "seq": int(seq or 0),
        "computed_at": computed.isoformat(),
        "rows": [s["message"] for s in rows],
        "totals": _totals_from(stored, computed).as_message(),
    }


def _newer_and_different(entry: dict, stored: dict | None) -> bool:
    """Whether to push a row (``entry``: what the snapshot would keep of it): it differs from what was pushed (or
    counts from another shift start), and was not computed before it.

    Rows are computed outside the push lock, so a slow full recompute may arrive after a newer partial one;
    its older numbers must not replace the newer ones on the monitors.
    """
    if stored is None:
        return True
    if stored.get("computed_at") and stored["computed_at"] > entry["computed_at"]:
        return False
    return stored["message"] != entry["message"] or stored.get("shift_start") != entry["shift_start"]


def _stored(row: Row) -> dict:
    """What the snapshot keeps of a row: what was pushed, the sums the totals row is made of, and the instant its
    shift began (a new shift is pushed even when its numbers are those of the last one)."""
    return {
        "message": row.as_message(),
        "sums": {key: getattr(row, key) for key in SUMMED},
        "computed_at": row.computed_at.isoformat(),
        "shift_start": row.shift_started_at.isoformat() if row.shift_started_at else None,
    }


def _sum(all_sums) -> dict:
    sums = dict.fromkeys(SUMMED, 0)
    for row_sums in all_sums:
        for key in SUMMED:
            sums[key] += row_sums[key]
    return sums


def _load_json(value: bytes | None):
    return json.loads(value) if value else None


def _totals_from(stored: dict[str, dict], now: datetime) -> Row:
    return totals([Row(code=code, name="", **s["sums"]) for code, s in stored.items()], now)


def _send(message: dict) -> None:
    # Encoded once here rather than once per connected browser by the consumers.
    group_message = {"type": "monitor.message", "text": json.dumps(message)}
    async_to_sync(get_channel_layer().group_send)(GROUP, group_message)
