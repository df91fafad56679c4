"""The web form /fill/<form_id> (issue 20): a logged-in user's page for an open form, whose script reads the form,
its attachments and the user's household list from the OpenRosa endpoints and posts to /submission with the
browser session, the pipeline and the scoping of ODK Collect."""
import html
import io
import re

from sqlalchemy import select, update

from forms.models import Form
from server.db import session_scope
from support import Collect, jpeg, login, visit_xml
from sync.models import Area, Household, Submission

VILLAGE_1, VILLAGE_2 = "210504001001", "210504001002"


def numbers_in(sessions, village: str) -> list[str]:
    with session_scope(sessions) as session:
        return sorted(session.scalars(select(Household.number).join(Area, Area.id == Household.area_id)
                                      .where(Area.code == village)))


def shell(text: str) -> dict[str, str]:
    """The data-* attributes of the page's #fill element (what its script reads)."""
    element = re.search(r'<div id="fill"(.*?)>', text, re.S).group(1)
    return {name: html.unescape(value) for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', element)}


def test_the_page_needs_a_login_and_names_the_forms_openrosa_urls(client, sample_district):
    answer = client.get("/fill/household_visit")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    login(client, "cadre001")
    answer = client.get("/fill/household_visit")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "<title>入户走访</title>" in text
    data = shell(text)
    assert data["form"] == "/fill/household_visit/transform.json"  # the XForm with the server's XSLT of it
    assert data["manifest"] == "/forms/household_visit/manifest"
    assert data["submission"] == "/submission" and data["csrf"] and data["worker"] == "/fill/sw.js"
    assert data["tiles"] == ""  # no ZOUFANG_TILE_URL: no map, nothing fetched from outside
    # the engine is a static file under a versioned URL (kept a year by the phone), no inline script
    assert re.search(r'<script src="/static/webforms/fill\.js\?v=[0-9a-f]{12}" defer></script>', text)
    assert "<script>" not in text
    policy = answer.headers["Content-Security-Policy"]
    assert "unsafe" not in policy and "default-src 'self'" in policy
    assert "img-src 'self' data: blob:;" in policy  # the chosen photo's preview and resizing; nothing else added


def test_an_unknown_or_closed_form_is_not_found(client, sessions, sample_district):
    login(client, "cadre001")
    assert client.get("/fill/no_such_form").status_code == 404
    with session_scope(sessions) as session:
        session.execute(update(Form).where(Form.xml_form_id == "income_survey").values(state="closing"))
    assert client.get("/fill/income_survey").status_code == 404  # Collect's form list no longer offers it
    assert client.get("/fill/housing_assessment").status_code == 200


def test_the_form_comes_with_the_servers_xslt_of_it_revalidated_by_its_etag(client, sessions, sample_district):
    """Browsers are dropping XSLT (Chrome 155): the page gets enketo-transformer's two stylesheets' results from
    the server (forms/web_transform.py) beside the XForm they were made from, in one answer."""
    assert client.get("/fill/household_visit/transform.json").status_code == 302  # to the login page
    login(client, "cadre001")
    answer = client.get("/fill/household_visit/transform.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["xform"] == client.get("/forms/household_visit.xml").get_data(as_text=True)
    assert body["form"].startswith("<root ") and 'data-form-id="household_visit"' in body["form"]
    assert "<instance>" in body["model"] and 'id="household_visit"' in body["model"]
    assert answer.headers["Cache-Control"] == "private, no-cache"  # kept by the page, asked again each time
    again = client.get("/fill/household_visit/transform.json", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/fill/housing_assessment/transform.json")
    assert other.headers["ETag"] != answer.headers["ETag"] and "data-form-id=\"housing_assessment\"" in \
        other.get_json()["form"]
    with session_scope(sessions) as session:
        session.execute(update(Form).where(Form.xml_form_id == "income_survey").values(state="closing"))
    assert client.get("/fill/income_survey/transform.json").status_code == 404
    assert client.get("/fill/no_such_form/transform.json").status_code == 404


def test_a_household_is_preselected_only_within_the_callers_areas(client, sessions, sample_district):
    mine, theirs = numbers_in(sessions, VILLAGE_1)[0], numbers_in(sessions, VILLAGE_2)[0]
    login(client, "cadre001")
    assert client.get(f"/fill/household_visit?household={mine}").status_code == 200  # its script picks it
    assert client.get(f"/fill/household_visit?household={theirs}").status_code == 404
    assert client.get("/fill/household_visit?household=0000").status_code == 404


def test_the_browser_session_reads_the_form_and_only_its_own_households(client, sessions, sample_district):
    login(client, "cadre001")
    form = client.get("/forms/household_visit.xml")
    assert form.status_code == 200 and b"<h:title>" in form.data
    manifest = client.get("/forms/household_visit/manifest").get_data(as_text=True)
    url = re.search(r"<downloadUrl>([^<]*households\.csv)</downloadUrl>", manifest).group(1)
    listed = client.get(url).get_data(as_text=True).splitlines()[1:]
    assert sorted(line.split(",")[0] for line in listed) == numbers_in(sessions, VILLAGE_1)


def test_a_submission_from_the_page_goes_through_the_one_pipeline_with_the_csrf_token(client, sessions,
                                                                                     sample_district):
    number = numbers_in(sessions, VILLAGE_1)[0]
    login(client, "cadre001")
    token = shell(client.get("/fill/household_visit").get_data(as_text=True))["csrf"]
    web = Collect(client, {})
    xml = visit_xml(number)
    # the session cookie alone could be a forged cross-site post: refused
    assert web.submit(xml, {"family.jpg": jpeg(20_000)}).status_code == 400
    answer = web.submit(xml, {"family.jpg": jpeg(20_000)}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    with session_scope(sessions) as session:
        submission = session.scalar(select(Submission).where(Submission.household_number == number))
        assert submission.submitter_id is not None and submission.device_id is None
    # the same instance again (a send repeated after a lost answer) is harmless, as from Collect
    assert web.submit(xml, {"family.jpg": jpeg(20_000)}, headers={"X-CSRF-Token": token}).status_code == 201


def test_without_a_session_the_openrosa_endpoints_still_ask_for_credentials(client, sample_district):
    answer = client.post("/submission", data={"xml_submission_file": (io.BytesIO(b"<data/>"), "s.xml")},
                         content_type="multipart/form-data")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")


def test_the_service_worker_is_served_for_the_fill_pages_and_never_kept_stale(client, sample_district):
    answer = client.get("/fill/sw.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert "no-cache" in answer.headers["Cache-Control"]
    assert answer.headers["Content-Security-Policy"] == "default-src 'self'"
    assert b"zoufang-fill" in answer.data  # the cache the page fills (webforms/src/sw.js)


def test_a_send_after_the_session_ended_gets_no_password_box(client, sessions, sample_district):
    """The page's queue sends later, maybe after the login expired: a 401 the page shows, without the Basic
    challenge that would make the browser ask for a password in its own dialog."""
    number = numbers_in(sessions, VILLAGE_1)[0]
    login(client, "cadre001")
    token = shell(client.get("/fill/household_visit").get_data(as_text=True))["csrf"]
    client.post("/logout", data={"csrf_token": token})
    answer = Collect(client, {}).submit(visit_xml(number), headers={"X-CSRF-Token": token})
    assert answer.status_code == 401 and "WWW-Authenticate" not in answer.headers
    assert "登录已过期" in answer.get_data(as_text=True)


# ---- edit mode (issue 20): /fill/<form_id>/edit/<instance_id> ---------------------------------------------------

ID_NUMBER, MASKED = "210504194707180878", "210504********0878"


def sent_visit(client, sample_district, number: str, username: str = "cadre1") -> str:
    """A visit sent by `username` naming a person by full ID number, with its family photo; its instanceID."""
    xml = visit_xml(number, changes=[{"type": "move_in", "name": "王五", "id_number": ID_NUMBER}])
    answer = Collect(client, sample_district[username]).submit(xml, {"family.jpg": jpeg(20_000)})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return re.search(rb"<instanceID>([^<]+)</instanceID>", xml).group(1).decode()


def edit_urls(instance_id: str) -> list[str]:
    base = f"/fill/household_visit/edit/{instance_id}"
    return [base, f"{base}/instance.xml", f"{base}/files/family.jpg"]


def test_the_sender_opens_their_submission_in_edit_mode_with_the_real_id_numbers(client, sessions,
                                                                                 sample_district):
    instance_id = sent_visit(client, sample_district, numbers_in(sessions, VILLAGE_1)[0])
    login(client, "cadre001")
    page_url, xml_url, file_url = edit_urls(instance_id)
    answer = client.get(page_url)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "<title>修改 · 入户走访</title>" in text and "再填一份" not in text  # an edit, not a fresh form
    data = shell(text)
    assert data["instance"] == xml_url and data["edited"] == instance_id
    assert data["files"] == f"{page_url}/files/" and data["submission"] == "/submission"
    # the answers go back whole: a masked ID number would overwrite the household's with the mask
    xml = client.get(xml_url)
    assert xml.status_code == 200 and f"<id_number>{ID_NUMBER}</id_number>" in xml.get_data(as_text=True)
    assert "no-store" in xml.headers["Cache-Control"]
    photo = client.get(file_url)
    assert photo.status_code == 200 and photo.data == jpeg(20_000) and "no-store" in photo.headers["Cache-Control"]
    photo.close()
    assert client.get(f"{page_url}/files/other.jpg").status_code == 404


def test_another_areas_submission_is_not_found_and_another_cadres_is_forbidden(client, sessions, make_user,
                                                                               sample_district):
    instance_id = sent_visit(client, sample_district, numbers_in(sessions, VILLAGE_1)[0])
    login(client, "cadre002")  # village 2: the submission is not in their areas
    assert [client.get(url).status_code for url in edit_urls(instance_id)] == [404, 404, 404]
    make_user("village1b", "cadre", (sample_district["codes"][VILLAGE_1],))
    login(client, "village1b")  # the same village, not the sender: only its sender or a supervisor may edit it
    answers = [client.get(url) for url in edit_urls(instance_id)]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert all(ID_NUMBER not in a.get_data(as_text=True) for a in answers)
    assert client.get("/fill/household_visit/edit/uuid:no-such").status_code == 404


def test_a_supervisor_of_the_area_opens_it_and_the_pages_link_to_it(client, sessions, sample_district):
    number = numbers_in(sessions, VILLAGE_1)[0]
    instance_id = sent_visit(client, sample_district, number)
    page_url, xml_url, _file_url = edit_urls(instance_id)
    login(client, "town1")
    assert client.get(page_url).status_code == 200
    assert f"<id_number>{ID_NUMBER}</id_number>" in client.get(xml_url).get_data(as_text=True)
    review = client.get(f"/review/submissions/household_visit/{instance_id}").get_data(as_text=True)
    assert f'href="{page_url}" data-testid="web-edit"' in review
    household = client.get(f"/households/{number}/submissions/household_visit/{instance_id}").get_data(as_text=True)
    assert f'href="{page_url}" data-testid="web-edit"' in household


def test_a_replaced_version_is_not_edited_again_and_links_to_the_current_one_only(client, sessions,
                                                                                  sample_district):
    number = numbers_in(sessions, VILLAGE_1)[0]
    old = sent_visit(client, sample_district, number)
    edit = visit_xml(number, deprecated_id=old, food="no")
    assert Collect(client, sample_district["cadre1"]).submit(edit).status_code == 201
    new = re.search(rb"<instanceID>([^<]+)</instanceID>", edit).group(1).decode()
    login(client, "cadre001")
    assert [client.get(url).status_code for url in edit_urls(old)[:2]] == [409, 409]
    assert client.get(edit_urls(new)[0]).status_code == 200
    kept = client.get(edit_urls(new)[2])  # the photo the edit kept without sending it
    assert kept.status_code == 200 and kept.data == jpeg(20_000)
    kept.close()
    old_page = client.get(f"/households/{number}/submissions/household_visit/{old}").get_data(as_text=True)
    assert 'data-testid="web-edit"' not in old_page
    new_page = client.get(f"/households/{number}/submissions/household_visit/{new}").get_data(as_text=True)
    assert f'href="{edit_urls(new)[0]}" data-testid="web-edit"' in new_page


def test_a_closed_form_has_no_edit_page_and_no_link(client, sessions, sample_district):
    number = numbers_in(sessions, VILLAGE_1)[0]
    instance_id = sent_visit(client, sample_district, number)
    with session_scope(sessions) as session:
        session.execute(update(Form).where(Form.xml_form_id == "household_visit").values(state="closing"))
    login(client, "cadre001")
    assert client.get(edit_urls(instance_id)[0]).status_code == 404
    page = client.get(f"/households/{number}/submissions/household_visit/{instance_id}").get_data(as_text=True)
    assert 'data-testid="web-edit"' not in page


def test_a_returned_submission_waiting_for_its_answer_offers_its_sender_the_edit(client, sessions, sample_district):
    instance_id = sent_visit(client, sample_district, numbers_in(sessions, VILLAGE_1)[0])
    returned = client.post(f"/api/v1/submissions/household_visit/{instance_id}/review",
                           json={"state": "rejected", "comment": "合影看不清"}, headers=sample_district["town1"])
    assert returned.status_code == 200, returned.get_data(as_text=True)
    login(client, "cadre001")
    listed = client.get("/feedback/").get_data(as_text=True)
    assert f'href="{edit_urls(instance_id)[0]}" data-testid="returned-edit"' in listed
