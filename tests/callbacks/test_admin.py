from callbacks.models import BusinessProcess


def test_the_raw_admin_shows_business_processes_but_changes_go_through_the_audited_pages(client, make_user):
    """Settings changed in the raw admin would escape the audit log: it is read only for business processes."""
    bp = BusinessProcess.objects.create(code="SALES", name="Sales")
    client.force_login(make_user("administrators"))

    assert client.get(f"/admin/callbacks/businessprocess/{bp.pk}/change/").status_code == 200
    assert client.get("/admin/callbacks/businessprocess/add/").status_code == 403
    response = client.post(f"/admin/callbacks/businessprocess/{bp.pk}/change/", {"code": "SALES", "name": "Renamed"})
    assert response.status_code == 403
    bp.refresh_from_db()
    assert bp.name == "Sales"
