"""Photos through the whole path: accepted at once, checked and thumbnailed by the worker, judged as evidence."""
import dataclasses
import datetime as dt
import io
import threading
import time

import pytest
from PIL import Image
from sqlalchemy import select

from server.db import session_scope, utcnow
from sync import jobs
from sync.jobs import claim_image_jobs, run_image_jobs
from support import Collect, make_jpeg, make_png, visit_xml
from sync.models import Job, SubmissionAttachment
from sync.records import Visit

HH = "2105040010010001"   # its known location is 41.296222, 123.801020


@pytest.fixture
def device(client, sample_district):
    return Collect(client, sample_district["cadre1"])


def fetch(client, url, headers):
    """GET and close, as a WSGI server does (closing the response closes the stored file)."""
    with client.get(url, headers=headers) as response:
        response.body = response.get_data()
    return response


def attachment(sessions, filename="family.jpg"):
    with session_scope(sessions) as session:
        return session.scalar(select(SubmissionAttachment).where(SubmissionAttachment.filename == filename))


def verdicts(sessions):
    with session_scope(sessions) as session:
        return [(v.verdict, v.reasons) for v in session.scalars(select(Visit))]


def test_a_photo_gets_checked_thumbnailed_and_the_visit_verified(device, client, sample_district, sessions, work):
    family = make_jpeg((1600, 1200), orientation=6, taken="2026:11:20 10:02:00", gps=(41.2963, 123.8011))
    instance = "uuid:photo-1"
    response = device.submit(visit_xml(HH, instance_id=instance, photo="family.jpg"), {"family.jpg": family})
    assert response.status_code == 201
    with session_scope(sessions) as session:
        assert session.scalar(select(Job.kind).where(Job.kind == "image")) == "image"  # not done in the request
    assert attachment(sessions).image_check is None
    work()
    checked = attachment(sessions)
    assert checked.image_check == "ok" and checked.image_info["gps"] == pytest.approx([41.2963, 123.8011], abs=1e-4)
    assert verdicts(sessions) == [("verified", [])]
    base = f"/api/v1/submissions/household_visit/{instance}/attachments/family.jpg"
    thumb = fetch(client, f"{base}/thumb", sample_district["cadre1"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.body)).size == (192, 256)  # portrait: EXIF orientation respected
    preview = fetch(client, f"{base}/preview", sample_district["cadre1"])
    assert max(Image.open(io.BytesIO(preview.body)).size) == 1280
    ranged = fetch(client, base, {**sample_district["cadre1"], "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.body == family[:100]
    assert fetch(client, f"{base}/thumb", sample_district["cadre2"]).status_code == 404  # other village
    detail = client.get(f"/api/v1/households/{HH}", headers=sample_district["cadre1"]).get_json()
    assert detail["latest_visit"]["verdict"] == "verified"


def test_a_broken_photo_keeps_the_submission_and_flags_the_attachment(device, client, sample_district, sessions,
                                                                      work):
    truncated = make_jpeg((800, 600))[:3000]
    assert device.submit(visit_xml(HH, photo="family.jpg"), {"family.jpg": truncated}).status_code == 201
    work()
    assert attachment(sessions).image_check == "truncated"
    assert attachment(sessions).thumb_sha256 is None
    [(verdict, reasons)] = verdicts(sessions)
    assert verdict == "questionable" and reasons == ["photo_invalid"]
    listed = client.get("/api/v1/submissions", headers=sample_district["cadre1"]).get_json()
    assert listed[0]["attachments"][0]["image_check"] == "truncated"


def test_a_png_named_jpg_is_an_image_of_another_type(device, sample_district, sessions, work):
    assert device.submit(visit_xml(HH, photo="family.jpg"), {"family.jpg": make_png()}).status_code == 201
    work()
    checked = attachment(sessions)
    assert checked.image_check == "type_mismatch" and checked.thumb_sha256 is not None


def test_visit_far_from_the_house_is_questionable(device, sample_district, sessions, work):
    device.submit(visit_xml(HH, photo="family.jpg", gps="41.31 123.80 100 5"),
                  {"family.jpg": make_jpeg(taken="2026:11:20 10:00:00")})
    work()
    [(verdict, reasons)] = verdicts(sessions)
    assert verdict == "questionable" and reasons == ["gps_far"]


def test_location_is_proposed_then_confirmed_by_a_supervisor(device, client, sample_district, sessions, work):
    from sync.models import Household
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == HH))
        household.latitude = household.longitude = None
    device.submit(visit_xml(HH, photo="family.jpg", gps="41.3 123.8 100 8"), {"family.jpg": make_jpeg()})
    work()
    assert verdicts(sessions)[0] == ("questionable", ["no_household_location"])
    detail = client.get(f"/api/v1/households/{HH}", headers=sample_district["town1"]).get_json()
    proposal = detail["fields"]["proposed_location"]["value"]
    assert (proposal["latitude"], proposal["longitude"], proposal["accuracy"]) == (41.3, 123.8, 8.0)
    assert client.put(f"/api/v1/households/{HH}/location", json={"latitude": 41.3, "longitude": 123.8},
                      headers=sample_district["cadre1"]).status_code == 403
    confirmed = client.put(f"/api/v1/households/{HH}/location", json={"latitude": 41.3, "longitude": 123.8},
                           headers=sample_district["town1"])
    assert confirmed.status_code == 200
    assert confirmed.get_json()["location"] == {"latitude": 41.3, "longitude": 123.8}
    assert "proposed_location" not in confirmed.get_json()["fields"]
    assert verdicts(sessions)[0] == ("verified", [])


def test_photos_not_reached_within_the_time_budget_go_back_to_the_queue(device, app, sample_district, sessions):
    from sync.jobs import run_until_idle
    rt = app.extensions["zoufang"]
    for number in range(3):
        xml = visit_xml(HH, instance_id=f"uuid:budget-{number}", photo="family.jpg")
        assert device.submit(xml, {"family.jpg": make_jpeg((640, 480))}).status_code == 201
    hurried = dataclasses.replace(rt.queue, image_budget=dt.timedelta(0))
    assert len(run_image_jobs(rt.sessions, rt.store, hurried)) == 1  # at least one photo per round
    with session_scope(sessions) as session:
        left = session.execute(select(Job.state, Job.run_after).where(Job.kind == "image")).all()
    assert [state for state, _ in left] == ["queued", "queued"]  # handed back, not leased for minutes
    run_until_idle(rt.sessions, hurried, rt.store)
    checked = [attachment.image_check for attachment in _attachments(sessions)]
    assert checked == ["ok", "ok", "ok"]


def _attachments(sessions):
    with session_scope(sessions) as session:
        return list(session.scalars(select(SubmissionAttachment).order_by(SubmissionAttachment.id)))


def _three_photo_visit(instance_id):
    xml = visit_xml(HH, instance_id=instance_id, photo="family.jpg").decode()
    xml = (xml.replace("<photo_housing_sign/>", "<photo_housing_sign>housing.jpg</photo_housing_sign>")
           .replace("<photo_water_sign/>", "<photo_water_sign>water.jpg</photo_water_sign>"))
    # the water sign was photographed two days before the visit: only its check can say so
    photos = {"family.jpg": make_jpeg(taken="2026:11:20 10:00:00"), "housing.jpg": make_jpeg(taken="2026:11:20 10:01:00"),
              "water.jpg": make_jpeg(taken="2026:11:18 10:00:00")}
    return xml.encode(), photos


@pytest.mark.parametrize("per_round", [8, 1], ids=["one_round", "a_round_per_photo"])
def test_a_submission_is_folded_once_after_all_its_photos_are_checked(device, app, sample_district, sessions,
                                                                      monkeypatch, per_round):
    import dataclasses

    import sync.jobs
    from sync.jobs import run_pending, run_until_idle
    rt = app.extensions["zoufang"]
    assert device.submit(*_three_photo_visit("uuid:three-photos")).status_code == 201
    assert run_pending(rt.sessions, rt.queue)  # the fold on arrival, before any photo is checked
    folds = []
    real = sync.jobs.reconcile_households

    def counting(session, numbers, options, **kwargs):
        folds.append(sorted(set(numbers)))
        return real(session, numbers, options, **kwargs)

    monkeypatch.setattr(sync.jobs, "reconcile_households", counting)
    run_until_idle(rt.sessions, dataclasses.replace(rt.queue, image_batch=per_round), rt.store)
    assert folds == [[HH]]
    assert [a.image_check for a in _attachments(sessions)] == ["ok", "ok", "ok"]
    [(verdict, reasons)] = verdicts(sessions)
    assert verdict == "questionable" and reasons == ["photo_time_mismatch"]


def test_a_photo_checked_while_its_submission_waits_to_be_folded_queues_no_second_fold(device, app, sample_district,
                                                                                     sessions):
    from sync.jobs import run_image_jobs
    rt = app.extensions["zoufang"]
    assert device.submit(*_three_photo_visit("uuid:queued-fold")).status_code == 201
    while run_image_jobs(rt.sessions, rt.store, rt.queue):
        pass
    with session_scope(sessions) as session:
        jobs = session.execute(select(Job.kind, Job.payload).where(Job.submission_id.is_not(None))).all()
    assert jobs == [("reconcile", {})]  # the one queued on arrival


SHORT_LEASE = {"lease": dt.timedelta(seconds=0.3), "heartbeat": dt.timedelta(seconds=0.05)}


def test_a_killed_workers_photo_returns_when_its_short_lease_runs_out(device, app, sample_district):
    """Issue 17 item 15: a claim nobody renews (its worker was killed) is taken over within the lease, seconds,
    not after five minutes."""
    rt = app.extensions["zoufang"]
    assert rt.queue.lease <= dt.timedelta(seconds=30) and rt.queue.heartbeat < rt.queue.lease / 2
    short = dataclasses.replace(rt.queue, **SHORT_LEASE)
    assert device.submit(visit_xml(HH, photo="family.jpg"), {"family.jpg": make_jpeg()}).status_code == 201
    claimed, _sources, _lease_end = claim_image_jobs(rt.sessions, short, utcnow())  # then the worker dies
    assert len(claimed) == 1
    assert run_image_jobs(rt.sessions, rt.store, short) == []  # still leased
    time.sleep(0.4)
    assert run_image_jobs(rt.sessions, rt.store, short) == [claimed[0].id]


def test_a_live_slow_photo_keeps_its_lease_by_heartbeat(device, app, sample_district, monkeypatch):
    rt = app.extensions["zoufang"]
    short = dataclasses.replace(rt.queue, **SHORT_LEASE)
    assert device.submit(visit_xml(HH, photo="family.jpg"), {"family.jpg": make_jpeg()}).status_code == 201
    checks, working = [], threading.Event()
    real = jobs.process_image

    def slow(*args):  # three leases long
        checks.append(args[2])  # (store, sha256, file name, …)
        working.set()
        time.sleep(0.9)
        return real(*args)

    monkeypatch.setattr(jobs, "process_image", slow)
    done = []
    first = threading.Thread(target=lambda: done.extend(run_image_jobs(rt.sessions, rt.store, short)))
    first.start()
    assert working.wait(5)
    while first.is_alive():  # another worker keeps asking meanwhile and gets nothing
        assert run_image_jobs(rt.sessions, rt.store, short) == []
        time.sleep(0.05)
    first.join()
    assert len(done) == 1 and checks == ["family.jpg"]
    assert attachment(app.extensions["zoufang"].sessions).image_check == "ok"
