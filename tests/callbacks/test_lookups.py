"""``field__any``: the same rows as ``field__in``, sent to PostgreSQL as one array parameter."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callbacks.models import BusinessProcess

pytestmark = pytest.mark.django_db


def test_any_selects_what_in_selects(make_business_process):
    wanted = [make_business_process(code).pk for code in ("A", "B")]
    make_business_process("C")

    with CaptureQueriesContext(connection) as captured:
        found = set(BusinessProcess.objects.filter(pk__any=wanted).values_list("code", flat=True))

    assert found == {"A", "B"}
    assert set(BusinessProcess.objects.filter(pk__any=[]).values_list("code", flat=True)) == set()
    if connection.vendor == "postgresql":
        assert "= ANY(" in captured.captured_queries[0]["sql"], "one array parameter, not a placeholder per id"


def test_any_follows_a_foreign_key(make_business_process):
    from callbacks.models import ScheduleRange

    bp = make_business_process("A")
    other = make_business_process("B")

    ranges = ScheduleRange.objects.filter(business_process_id__any=[bp.pk])

    assert ranges.count() == bp.schedule_ranges.count() > 0
    assert not ranges.filter(business_process=other).exists()
