"""Stylesheets and scripts under versioned URLs that a phone keeps for a year instead of asking on every page."""
import hashlib
import re
from pathlib import Path

import server

STATIC = Path(server.__file__).parent / "static"


def test_pages_link_static_files_by_the_digest_of_their_content(client):
    page = client.get("/login").get_data(as_text=True)
    digest = hashlib.sha256((STATIC / "app.css").read_bytes()).hexdigest()[:12]
    assert f'href="/static/app.css?v={digest}"' in page


def test_a_versioned_file_is_kept_for_a_year_and_never_asked_for_again(client):
    url = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{12})"', client.get("/login").get_data(as_text=True))[1]
    with client.get(url) as response:  # closed: it streams the file
        assert response.status_code == 200 and response.data == (STATIC / "app.css").read_bytes()
        cache = response.cache_control
    assert cache.max_age == 365 * 86400 and cache.immutable and cache.public and not cache.no_cache


def test_an_unversioned_or_outdated_url_is_revalidated_as_before(client):
    for url in ("/static/app.css", "/static/app.css?v=000000000000"):
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.cache_control.max_age is None and not response.cache_control.immutable
            assert response.headers.get("ETag") or response.headers.get("Last-Modified")


def test_a_missing_file_is_404_without_a_version(client):
    assert client.get("/static/nothing-here.css?v=abc").status_code == 404


def test_every_page_names_its_icon_and_favicon_ico_leads_to_it(client):
    """Issue 17, 13: no page's request for an icon ends in a 404."""
    page = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)
    with client.get(icon) as served:
        assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    moved = client.get("/favicon.ico")
    assert moved.status_code == 301 and moved.headers["Location"].split("?")[0].endswith("/static/favicon.svg")
