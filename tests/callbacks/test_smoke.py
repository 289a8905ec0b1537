def test_a_requested_callback_waits_in_queue(events, business_process):
    response = events.request()
    assert response.status_code == 201
    assert events.callback()["location"] == "HandlingByBusinessProcess"
