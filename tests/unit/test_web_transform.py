"""The server's side of the web form's XSLT (forms/web_transform.py): the XForm prepared as enketo-transformer
prepares it before its stylesheets (src/transformer.ts, processItemsets and processBinaryDefaults, as bundled in
webforms/), the stylesheets applied, and an XForm that is not XML or asks for outside entities refused or left
unresolved. That the results equal Chromium's own XSLTProcessor's for the bundled forms is tested in the browser
(tests/browser/test_web_form.py)."""
import pathlib

import pytest
from lxml import etree

from forms.compile import compile_xlsform
from forms.web_transform import WebTransformError, escape_url_path, prepared, transform

XFORMS = "http://www.w3.org/2002/xforms"

XFORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa">
  <h:head>
    <h:title>t</h:title>
    <model>
      <itext>
        <translation lang="Chinese (zh)" default="true()">
          <text id="static_instance-town-0"><value>东村</value></text>
        </translation>
      </itext>
      <instance><data id="t"><town/><village/><mixed/><picture>jr://images/house sign.png</picture><meta><instanceID/></meta></data></instance>
      <instance id="town">
        <root>
          <item><itextId>static_instance-town-0</itextId><name>east</name></item>
          <item><itextId>static_instance-town-1</itextId><name>west</name></item>
        </root>
      </instance>
      <instance id="villages" src="jr://file-csv/villages.csv"/>
      <bind nodeset="/data/town" type="string"/>
      <bind nodeset="/data/village" type="string"/>
      <bind nodeset="/data/picture" type="binary"/>
    </model>
  </h:head>
  <h:body>
    <select1 ref="/data/town">
      <label>Town</label>
      <itemset nodeset="instance('town')/root/item"><value ref="name"/><label ref="jr:itext(itextId)"/></itemset>
    </select1>
    <select1 ref="/data/village">
      <label>Village</label>
      <itemset nodeset="instance('villages')/root/item[town= /data/town ]"><value ref="name"/><label ref="label"/></itemset>
    </select1>
    <select ref="/data/mixed">
      <label>Mixed</label>
      <itemset nodeset="randomize(instance('town')/root/item, 3)"><value ref="name"/><label ref="jr:itext(itextId)"/></itemset>
    </select>
  </h:body>
</h:html>
""".encode()


def itemsets(tree):
    return tree.getroot().findall(f".//{{{XFORMS}}}itemset")


def test_an_itemset_gets_the_references_and_translated_labels_enketo_transformer_gives_it():
    # processItemsets: valueRef/labelRef copied, itextPath from the nodeset's instance and path without its
    # filter, and for a jr:itext() label the items' itextId elements copied into the itemset
    town, village, mixed = itemsets(prepared(XFORM))
    assert (town.get("valueRef"), town.get("labelRef")) == ("name", "jr:itext(itextId)")
    assert town.get("itextPath") == '/h:html/h:head/xf:model/xf:instance[@id="town"]/xf:root/xf:item'
    copied = town.findall(f"{{{XFORMS}}}itextId")
    assert [c.text for c in copied] == ["static_instance-town-0", "static_instance-town-1"]
    assert all(c.tail is None for c in copied)  # an element copied alone, as cloneNode copies it
    assert village.get("itextPath") == '/h:html/h:head/xf:model/xf:instance[@id="villages"]/xf:root/xf:item'
    assert village.get("labelRef") == "label" and village.find(f"{{{XFORMS}}}itextId") is None
    # randomize(instance('town')/root/item, 3): the path up to the seed's comma
    assert mixed.get("itextPath") == '/h:html/h:head/xf:model/xf:instance[@id="town"]/xf:root/xf:item'
    assert len(mixed.findall(f"{{{XFORMS}}}itextId")) == 2


def test_a_binary_default_gets_its_escaped_url_as_text_and_src():
    picture = prepared(XFORM).getroot().find(f".//{{{XFORMS}}}picture")
    assert picture.text == picture.get("src") == "jr://images/house%20sign.png"


@pytest.mark.parametrize("url, escaped", [
    ("jr://images/house sign.png", "jr://images/house%20sign.png"),
    ("jr://images/门牌.jpg", "jr://images/%E9%97%A8%E7%89%8C.jpg"),
    ("jr://images/a%20b.png", "jr://images/a%20b.png"),  # already escaped: kept
    ("https://Example.org/a b?q=1 2", "https://example.org/a%20b?q=1%202"),
])
def test_urls_are_escaped_as_a_browsers_url_parser_escapes_them(url, escaped):
    assert escape_url_path(url) == escaped


def test_the_stylesheets_turn_a_form_into_enketos_html_and_model():
    path = pathlib.Path(__file__).resolve().parents[2] / "forms" / "xlsforms" / "housing_assessment.xlsx"
    xform = compile_xlsform(path.read_bytes(), path.name).xform
    done = transform(xform)
    html = etree.fromstring(done.form, etree.HTMLParser())
    form = html.find(".//form")
    assert form.get("data-form-id") == "housing_assessment" and "or" in form.get("class").split()
    assert html.findall(".//*[@data-relevant]") and html.findall(".//input[@name='/data/grade']")
    model = etree.fromstring(done.model.encode())
    assert model.find(f"{{{XFORMS}}}model/{{{XFORMS}}}instance") is not None
    assert transform(xform) is done  # kept: a form is opened many times
    assert len(done.etag) == 32 and done.etag != transform(XFORM).etag


def test_an_xform_that_is_not_xml_is_refused():
    with pytest.raises(WebTransformError, match="not well-formed"):
        transform(b"<h:html><unclosed>")


def test_an_outside_entity_is_never_read():
    hostile = XFORM.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0"?>\n<!DOCTYPE h:html [<!ENTITY secret '
                            b'SYSTEM "file:///etc/passwd">]>').replace(b"<h:title>t</h:title>",
                                                                       b"<h:title>&secret;</h:title>")
    done = transform(hostile)
    assert "root:" not in done.form and "root:" not in done.model
