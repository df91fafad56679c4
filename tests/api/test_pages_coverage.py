"""The coverage table's headers: the full words on a wide screen, short ones a phone shows instead (the CSS picks
one; tests/browser checks that the table then fits a 390 px phone)."""
import re

from support import login


def header(html, column):
    """The long and the short text of the table's header cell number `column`."""
    cells = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', re.search(r"<thead>(.*?)</thead>", html, re.S).group(1),
                       re.S)
    long_, short = (re.search(rf'class="cov-{kind}">([^<]*)<', cells[column]) for kind in ("long", "short"))
    return long_ and long_.group(1), short and short.group(1)


def test_the_questionable_column_has_a_short_header_for_phones(client, sample_district):
    login(client, "town1")
    chinese = client.get("/coverage/").get_data(as_text=True)
    assert header(chinese, 3) == ("存疑", "存疑户")
    english = client.get("/coverage/?lang=en").get_data(as_text=True)
    assert header(english, 3) == ("Questionable", "In doubt")
    assert header(english, 5) == ("Previous 3 months (avg.)", "vs. 3 mo.")

