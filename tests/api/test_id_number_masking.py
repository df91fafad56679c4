"""Full ID numbers (证件号码) in submissions: masked on the submission and review pages for everyone, as the
household file masks them; the XML over the API is masked for all roles but admin."""
import pytest

from support import Collect, login, visit_xml

HH = "2105040010010001"        # village 1 (town 1), cadre001
ID_NUMBER = "210504194707180878"
MASKED = "210504********0878"
INSTANCE = "uuid:with-id-number"


@pytest.fixture
def visit_with_id_number(client, sample_district):
    xml = visit_xml(HH, instance_id=INSTANCE, changes=[{"type": "move_in", "name": "王五", "id_number": ID_NUMBER}])
    response = Collect(client, sample_district["cadre1"]).submit(xml)
    assert response.status_code == 201, response.get_data(as_text=True)
    return sample_district


@pytest.mark.parametrize("role_headers", ["cadre1", "town1"])
def test_the_xml_api_masks_id_numbers_for_cadres_and_supervisors(client, visit_with_id_number, role_headers):
    response = client.get(f"/api/v1/submissions/household_visit/{INSTANCE}/xml",
                          headers=visit_with_id_number[role_headers])
    assert response.status_code == 200
    assert ID_NUMBER not in response.get_data(as_text=True)
    assert f"<id_number>{MASKED}</id_number>" in response.get_data(as_text=True)


def test_the_xml_api_gives_admins_the_full_id_number(client, visit_with_id_number, admin):
    response = client.get(f"/api/v1/submissions/household_visit/{INSTANCE}/xml", headers=admin)
    assert response.status_code == 200
    assert f"<id_number>{ID_NUMBER}</id_number>" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["cadre001", "town1", "admin"])
def test_the_households_submission_page_masks_id_numbers_for_every_role(client, visit_with_id_number, make_user,
                                                                       username):
    if username == "admin":
        make_user("admin", "admin")
    login(client, username)
    html = client.get(f"/households/{HH}/submissions/household_visit/{INSTANCE}").get_data(as_text=True)
    assert MASKED in html and ID_NUMBER not in html


@pytest.mark.parametrize("username", ["town1", "admin"])
def test_the_review_page_masks_id_numbers_for_every_reviewer(client, visit_with_id_number, make_user, username):
    if username == "admin":
        make_user("admin", "admin")
    login(client, username)
    response = client.get(f"/review/submissions/household_visit/{INSTANCE}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert MASKED in html and ID_NUMBER not in html
