"""Area scoping: a cadre of village A gets 404, not 403 and not data, for village B's records."""
import pytest

from support import jpeg, new_instance_id, submission_xml

A = "2105040010010001"  # household in village 1-1
B = "2105040020010001"  # household in village 2-1


@pytest.fixture
def world(collect, areas, make_household, make_user):
    make_household(A, areas["village11"])
    make_household(B, areas["village21"])
    ids = {}
    for number in (A, B):
        ids[number] = new_instance_id()
        response = collect.submit(submission_xml(instance_id=ids[number], household=number, photo_family="p.jpg"),
                                  {"p.jpg": jpeg(seed=len(ids))})
        assert response.status_code == 201
    return {
        "ids": ids,
        "cadre_a": make_user("cadre_a", "cadre", (areas["village11"],)),
        "town1": make_user("town1", "supervisor", (areas["town1"],)),
        "county": make_user("county", "supervisor", (areas["county"],)),
        "nobody": make_user("nobody", "supervisor", ()),
    }


def urls(form_instance: str) -> list[str]:
    base = f"/api/v1/submissions/test_visit/{form_instance}"
    return [base, f"{base}/xml", f"{base}/attachments/p.jpg"]


@pytest.mark.parametrize("who, sees_a, sees_b", [
    ("cadre_a", True, False), ("town1", True, False), ("county", True, True), ("nobody", False, False)])
def test_records_outside_the_callers_areas_are_404(client, world, who, sees_a, sees_b):
    headers = world[who]
    for number, visible in ((A, sees_a), (B, sees_b)):
        for url in urls(world["ids"][number]):
            response = client.get(url, headers=headers)
            response.close()
            assert response.status_code == (200 if visible else 404), (who, url)
            if not visible:
                assert response.get_json()["code"] == "submission.not_found"
                assert "no such submission" in response.get_json()["message_en"]


@pytest.mark.parametrize("who, expected", [
    ("cadre_a", {A}), ("town1", {A}), ("county", {A, B}), ("nobody", set())])
def test_submission_list_holds_only_the_callers_areas(client, world, who, expected):
    listed = client.get("/api/v1/submissions", headers=world[who]).get_json()
    assert {s["household_number"] for s in listed} == expected


def test_admin_sees_everything(client, world, admin):
    listed = client.get("/api/v1/submissions", headers=admin).get_json()
    assert {s["household_number"] for s in listed} == {A, B}


def test_household_entity_list_holds_only_the_callers_households(client, world, publish):
    from support import xlsform
    rows = [("select_one_from_file households.csv", "hh", "户", "Household")]
    publish(content=xlsform(form_id="with_list", extra_rows=rows))
    text = client.get("/forms/with_list/attachments/households.csv", headers=world["cadre_a"]).get_data(as_text=True)
    assert A in text and B not in text
    county = client.get("/forms/with_list/attachments/households.csv", headers=world["county"]).get_data(as_text=True)
    assert A in county and B in county
