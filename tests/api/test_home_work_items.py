"""The homes show the work loop (issue 15): a returned submission and the open cases of a cadre's households on the
cadre's home; open cases by kind and age, and the returned submissions waiting or answered, on a supervisor's, each
number opening its list."""
import re

from support import Collect, login, new_instance_id, visit_xml
from test_pages_home import card

HH = "2105040010010001"  # village 1 (town 1), cadre001's
COMMENT = "饮水问题请拍照说明整改情况"


def returned_visit(client, sample_district, reconcile):
    """cadre001's visit of HH finding unsafe water, reconciled, then marked 有问题 with a comment by town1."""
    instance_id = new_instance_id()
    sent = Collect(client, sample_district["cadre1"]).submit(visit_xml(HH, instance_id=instance_id, water="no"))
    assert sent.status_code == 201
    reconcile()
    reviewed = client.post(f"/api/v1/submissions/household_visit/{instance_id}/review",
                           json={"state": "has_issues", "comment": COMMENT}, headers=sample_district["town1"])
    assert reviewed.status_code == 200
    return instance_id


def test_a_cadres_home_shows_what_was_returned_and_the_open_cases_of_their_households(client, sample_district,
                                                                                   reconcile):
    returned_visit(client, sample_district, reconcile)
    login(client, "cadre001")
    text = client.get("/").get_data(as_text=True)
    returned = text[text.index('data-testid="home-returned"'):]
    assert COMMENT in returned[:returned.index("</section>")]
    kinds = re.findall(r'data-testid="home-case" data-kind="([^"]+)"><a href="([^"]+)"', text)
    assert ("water", f"/households/{HH}#cases") in kinds
    assert len({kind for kind, _href in kinds}) == len(kinds)  # one line per case


def test_a_supervisors_home_counts_open_cases_and_returned_submissions_each_opening_its_list(client, sample_district,
                                                                                         reconcile):
    instance_id = returned_visit(client, sample_district, reconcile)
    login(client, "town1")
    text = client.get("/").get_data(as_text=True)
    count, href = card(text, "cases")
    listed = client.get(href).get_data(as_text=True)
    assert count >= 1 and len(re.findall(r'data-testid="case-row"', listed)) == count
    assert card(text, "returned") == (1, "/feedback/?state=waiting")
    assert card(text, "answered")[0] == 0
    script = client.application.test_client()  # the cadre's phone: no supervisor's session cookie
    reply = script.post(f"/api/v1/submissions/household_visit/{instance_id}/review",
                        json={"comment": "已重新入户，水窖已清理"}, headers=sample_district["cadre1"])
    assert reply.status_code == 200, reply.get_json()
    text = client.get("/").get_data(as_text=True)
    assert card(text, "answered") == (1, "/feedback/?state=answered") and card(text, "returned")[0] == 0
