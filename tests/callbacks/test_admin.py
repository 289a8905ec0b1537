from callbacks.models import BusinessProcess


def test_a_business_process_created_in_the_admin_gets_the_default_schedule(client, make_user):
    """DESIGN.md: a new business process is open Monday to Friday, 08:00–18:00, unless given other hours."""
    client.force_login(make_user("administrators"))
    form = {
        "code": "NEW",
        "name": "New queue",
        "time_zone": "Europe/Paris",
        "no_answer_seconds": 60,
        "attempts_before_failure": 3,
        "recall_intervals": "[300, 900, 3600]",
        "shift_starts": '["00:00"]',
        "max_schedule_ahead": "30 00:00:00",
        "to_be_processed_threshold": 50,
        "failed_pct_threshold": 30,
        "is_active": "on",
        "schedule_ranges-TOTAL_FORMS": 0,
        "schedule_ranges-INITIAL_FORMS": 0,
        "schedule_exceptions-TOTAL_FORMS": 0,
        "schedule_exceptions-INITIAL_FORMS": 0,
    }
    response = client.post("/admin/callbacks/businessprocess/add/", form)

    assert response.status_code == 302, response.content.decode()[-3000:]
    ranges = BusinessProcess.objects.get(code="NEW").schedule_ranges.all()
    assert sorted((r.weekday, f"{r.start:%H:%M}", f"{r.end:%H:%M}") for r in ranges) == [
        (day, "08:00", "18:00") for day in range(5)
    ]
