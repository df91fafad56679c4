"""The web form's XSLT, applied here instead of in the phone's browser (/fill/<form_id>, issue 20).

enketo-transformer turns an XForm into enketo-core's HTML form and model by applying two XSL stylesheets with the
browser's XSLTProcessor. Browsers are removing XSLT (Chrome stops running it on Stable from version 155,
November 2026), so the server applies the same two stylesheets, as webforms/build.mjs copies them out of the
bundled enketo-transformer into server/static/webforms/xsl, with libxslt (lxml), the library the browsers used.
The XForm is first prepared as enketo-transformer prepares it before its XSLT (`_binary_defaults` and `_itemsets`
follow its processBinaryDefaults and processItemsets step by step); the page's script then hands the results to
enketo-transformer in place of XSLTProcessor's (webforms/src/xslt.js), and enketo-transformer does the rest.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from lxml import etree

#: where webforms/build.mjs writes the stylesheets of the enketo-transformer the page's script is built with
SHEETS = Path(__file__).resolve().parent.parent / "server" / "static" / "webforms" / "xsl"
FORM_SHEET, MODEL_SHEET = "openrosa2html5form.xsl", "openrosa2xmlmodel.xsl"
NAMESPACES = {"xf": "http://www.w3.org/2002/xforms", "h": "http://www.w3.org/1999/xhtml"}


class WebTransformError(ValueError):
    """The XForm cannot be turned into the web form (not XML, or the stylesheets fail on it)."""


@dataclass(frozen=True)
class Transformed:
    form: str   # the HTML form stylesheet's result, as libxslt serialises it
    model: str  # the model stylesheet's result
    etag: str   # of the XForm and the stylesheets: a new form version or a new enketo-transformer changes it


def _parser() -> etree.XMLParser:
    # a published form is the server's own, but an admin may upload an XForm: no entities, DTDs or network
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def _stylesheets() -> tuple[etree.XSLT, etree.XSLT, str]:
    digest = hashlib.sha256()
    sheets = []
    for name in (FORM_SHEET, MODEL_SHEET):
        source = (SHEETS / name).read_bytes()
        digest.update(source)
        # the stylesheets read nothing beyond the form: no files, no network, nothing written
        sheets.append(etree.XSLT(etree.fromstring(source, _parser()), access_control=etree.XSLTAccessControl.DENY_ALL))
    return sheets[0], sheets[1], digest.hexdigest()


@functools.lru_cache(maxsize=16)
def transform(xform: bytes) -> Transformed:
    """The two stylesheets' results for this XForm; the last few forms' are kept (a form is opened many times)."""
    form_sheet, model_sheet, sheets_digest = _stylesheets()
    tree = prepared(xform)
    try:
        form, model = str(form_sheet(tree)), str(model_sheet(tree))
    except etree.XSLTError as error:
        raise WebTransformError(f"enketo-transformer's stylesheets failed on the XForm: {error}") from error
    etag = hashlib.sha256(sheets_digest.encode() + xform).hexdigest()[:32]
    return Transformed(form=form, model=model, etag=etag)


def prepared(xform: bytes) -> etree._ElementTree:
    """The XForm as enketo-transformer hands it to its stylesheets."""
    try:
        tree = etree.ElementTree(etree.fromstring(xform, _parser()))
    except etree.XMLSyntaxError as error:
        raise WebTransformError(f"the XForm is not well-formed XML: {error}") from error
    _binary_defaults(tree)
    _itemsets(tree)
    return tree


def _xpath(context, expression: str) -> list:
    """enketo-transformer's XPath lookups (it writes the XForms namespace `xmlns:`, a prefix XPath in lxml cannot
    take: `xf:` here); an expression built from a form's odd nodeset finds nothing rather than failing the form."""
    try:
        return context.xpath(expression, namespaces=NAMESPACES)
    except etree.XPathError:
        return []


# ---- enketo-transformer's preparation of the XForm (src/transformer.ts), before its XSLT -------------------------

#: the characters a URL's path keeps as they are (the WHATWG path percent-encode set is the rest, with non-ASCII)
_PATH_SAFE = "!$%&'()*+,-./:;=@[]^_|~\\"
_QUERY_SAFE = _PATH_SAFE + "?`{}"


def escape_url_path(value: str) -> str:
    """enketo-transformer's escapeURLPath for a fully qualified URL (the only kind `_binary_defaults` passes): the
    path percent-encoded as a browser's URL parser does, `jr://` read as if it were `http://`."""
    scheme = re.match(r"^[a-z]+:", value)
    if scheme is None:
        return value
    parts = urlsplit(re.sub(r"^jr:/*", "http://", value))
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    href = f"{parts.scheme}://{parts.netloc.lower()}{path}" + (f"?{query}" if parts.query else "") + \
        (f"#{parts.fragment}" if parts.fragment else "")
    return href.replace("http:", scheme.group(0), 1)


def _binary_defaults(tree: etree._ElementTree) -> None:
    """processBinaryDefaults: a binary question's default (a jr:// image) gets its escaped URL as text and `src`."""
    for bind in _xpath(tree, '/h:html/h:head/xf:model/xf:bind[@type="binary"]'):
        nodeset = bind.get("nodeset")
        if not nodeset:
            continue
        found = _xpath(tree, "/h:html/h:head/xf:model/xf:instance" + nodeset.replace("/", "/xf:"))
        node = found[0] if found and isinstance(found[0], etree._Element) else None
        if node is None:
            continue
        text = "".join(node.itertext())
        if re.match(r"^[a-zA-Z]+://", text):
            escaped = escape_url_path(text)
            node.set("src", escaped)
            for child in list(node):
                node.remove(child)
            node.text = escaped


def _substring_before(haystack: str, needle: str) -> str:
    return haystack.split(needle, 1)[0]


def _substring_after(haystack: str, needle: str) -> str:
    # JavaScript's haystack.substring(haystack.indexOf(needle) + needle.length), a missing needle included
    return haystack[haystack.find(needle) + len(needle):]


def _js_substring(text: str, start: int, end: int) -> str:
    start, end = (min(max(n, 0), len(text)) for n in (start, end))
    return text[min(start, end):max(start, end)]


def _itemsets(tree: etree._ElementTree) -> None:
    """processItemsets: each itemset gets `valueRef`, `labelRef` and `itextPath` for the form stylesheet, and the
    translated labels of its secondary instance's items copied in (for a `jr:itext(…)` label)."""
    for itemset in _xpath(tree, "//xf:itemset"):
        value = _xpath(itemset, "./xf:value")
        label = _xpath(itemset, "./xf:label")
        value_ref = value[0].get("ref", "") if value else ""
        label_ref = label[0].get("ref", "") if label else ""
        nodeset = itemset.get("nodeset", "")
        quoted_id = _substring_before(_substring_after(nodeset, "instance("), ")")
        if "randomize(" in nodeset:
            path = _substring_before(_substring_after(nodeset, ")"), "," if "," in nodeset else ")")
        else:
            path = _substring_after(nodeset, ")")
        instance_path = re.sub(r"\[.*?\]", "", path.replace("/", "/xf:"))
        instance_id = _js_substring(quoted_id, 1, len(quoted_id) - 1)
        itext_path = f'/h:html/h:head/xf:model/xf:instance[@id="{instance_id}"]{instance_path}'
        itemset.set("valueRef", value_ref)
        itemset.set("labelRef", label_ref)
        itemset.set("itextPath", itext_path)
        named = re.search(r"itext\((.*)\)", label_ref)
        if named:
            for item in _xpath(tree, f'{itext_path}/*[name() = "{named.group(1)}"]'):
                if isinstance(item, etree._Element):
                    clone = copy.deepcopy(item)
                    clone.tail = None
                    itemset.append(clone)
