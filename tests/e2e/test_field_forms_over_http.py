"""The bundled visit form end to end over real HTTP: a cadre's Collect fetches the form and their household list,
fills a visit for one household with a photo, submits it, and the household's record shows it."""
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from forms.instances import bundled
from support import make_jpeg, visit_xml

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sync" / "samples"
VILLAGE_1 = "210504001001"


def flask(server, *args: str, stdin: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOUFANG_")}
    env.update(ZOUFANG_DATA_DIR=str(server.data_dir), ZOUFANG_WORKER="off", ZOUFANG_SECRET_KEY="e2e-secret")
    if os.environ.get("ZOUFANG_TEST_DATABASE_URL"):
        env["ZOUFANG_DATABASE_URL"] = os.environ["ZOUFANG_TEST_DATABASE_URL"]
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_cadre_fills_the_bundled_visit_form_for_a_household_on_their_list(start_server, request, tmp_path):
    server = start_server(ZOUFANG_PUBLISH_BUNDLED_FORMS="1")
    flask(server, "areas", "import", str(SAMPLES / "areas.csv"))
    # the roster names each household's cadre by an account, which must exist first: here one cadre for all
    flask(server, "users", "create", "cadre001", "--role", "cadre", "--area", VILLAGE_1, "--display-name", "王建国",
          "--password-stdin", stdin="cadre-password\n")
    rows = list(csv.DictReader(io.StringIO((SAMPLES / "roster.csv").read_text(encoding="utf-8"))))
    roster = tmp_path / "roster.csv"
    with open(roster, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "帮扶责任人": "cadre001"} for row in rows)
    flask(server, "roster", "import", str(roster))
    http = requests.Session()
    request.addfinalizer(http.close)
    http.auth = ("cadre001", "cadre-password")
    http.headers["X-OpenRosa-Version"] = "1.0"

    listing = http.get(f"{server.base_url}/formList")
    assert listing.status_code == 200
    entry = re.search(r"<xform><formID>household_visit</formID>.*?</xform>", listing.text).group(0)
    form = http.get(re.search(r"<downloadUrl>(.*?)</downloadUrl>", entry).group(1))
    assert f"md5:{hashlib.md5(form.content).hexdigest()}" in entry
    assert 'jr://file-csv/households.csv' in form.text or 'jr://file/households.csv' in form.text
    manifest = http.get(re.search(r"<manifestUrl>(.*?)</manifestUrl>", entry).group(1))
    assert '<mediaFile type="entityList"><filename>households.csv</filename>' in manifest.text
    households = http.get(re.search(r"<downloadUrl>(.*?)</downloadUrl>", manifest.text).group(1))
    assert f"md5:{hashlib.md5(households.content).hexdigest()}" in manifest.text
    rows = list(csv.DictReader(io.StringIO(households.content.decode("utf-8"))))
    roster = (SAMPLES / "roster.csv").read_text(encoding="utf-8")
    expected = {r["户编号"] for r in csv.DictReader(io.StringIO(roster)) if r["行政区划代码"] == VILLAGE_1}
    assert {r["name"] for r in rows} == expected  # exactly this cadre's village
    chosen = rows[0]

    instance = "uuid:e2e-visit-1"
    lat, lon = float(chosen["latitude"]), float(chosen["longitude"])
    xml = visit_xml(chosen["name"], instance_id=instance, base_version=int(chosen["__version"]),
                    gps=f"{lat} {lon} 120 6")
    served = re.search(r'id="household_visit" version="(\d+)"', form.text).group(1)
    assert served == bundled("household_visit").version  # the XLSForm the visit was filled from
    sent = http.post(f"{server.base_url}/submission",
                     files=[("xml_submission_file", ("submission.xml", xml, "text/xml")),
                            ("family.jpg", ("family.jpg", make_jpeg(taken="2026:11:20 10:00:00"), "image/jpeg"))])
    assert sent.status_code == 201, sent.text

    deadline = time.monotonic() + 15
    while True:  # the server's own worker thread reconciles it
        record = http.get(f"{server.base_url}/api/v1/households/{chosen['name']}")
        assert record.status_code == 200
        latest = record.json()["latest_visit"]
        if latest and latest["instance_id"] == instance or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert latest["instance_id"] == instance
    assert record.json()["fields"]["last_visit"]["instance_id"] == instance
