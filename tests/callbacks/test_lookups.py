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


def test_any_takes_any_collection_of_ids_or_of_strings(make_business_process):
    """Sets and dict views (which Django's query builder does not walk item by item), ids given as strings
    (prepared as the field prepares them), and strings (sent as an array of text)."""
    a, b = make_business_process("A"), make_business_process("B")
    make_business_process("C")

    def codes(**lookup) -> set[str]:
        return set(BusinessProcess.objects.filter(**lookup).values_list("code", flat=True))

    assert codes(pk__any={a.pk, b.pk}) == {"A", "B"}
    assert codes(pk__any=frozenset({a.pk})) == {"A"}
    assert codes(pk__any={b.pk: "B"}.keys()) == {"B"}
    assert codes(pk__any=[str(a.pk)]) == {"A"}
    assert codes(code__any={"B", "C", "nope"}) == {"B", "C"}
    assert codes(code__any=["a'b", 'c"d{,}']) == set(), "quotes and braces are values, not syntax"
    assert codes(code__any=[]) == codes(pk__any=set()) == set()
    assert codes(pk__any=[a.pk, None]) == {"A"}, "None matches nothing, as with __in"
