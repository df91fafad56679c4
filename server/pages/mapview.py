"""The map: this month's households coloured by visit state, the month's visit points (a line to the household
when the visit is questionable), filters by village, cadre and state. Leaflet is served by the app; there is
no base layer unless ZOUFANG_TILE_URL names a tile server, so the page works without the internet.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from jinja2.utils import htmlsafe_json_dumps
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from server.readmodels import STATES, map_geojson
from server.models import VISIT_ROLES, User
from server.pages.common import current_principal, month_arg, page, this_month
from server.pages.households import STATE_LABELS, VERDICT_LABELS
from server.runtime import db
from sync.models import Area, Household

bp = Blueprint("mapview", __name__, url_prefix="/map")

#: the evidence check's reason codes (sync/evidence.py), short enough for a popup
REASON_LABELS = {
    "no_evidence": lazy_gettext("没有定位也没有照片"), "no_gps": lazy_gettext("没有户门口定位"),
    "gps_inaccurate": lazy_gettext("定位精度不足"), "no_household_location": lazy_gettext("该户没有确认的位置"),
    "gps_far": lazy_gettext("定位离该户太远"), "photo_missing": lazy_gettext("缺少照片"),
    "photo_invalid": lazy_gettext("照片无效"), "photo_time_mismatch": lazy_gettext("照片拍摄时间不符"),
    "photo_gps_mismatch": lazy_gettext("照片拍摄位置不符"),
}


@bp.get("/")
@page(*VISIT_ROLES)
def map_page():
    principal = current_principal()
    month = month_arg()
    state = request.args.get("state") or None
    if state not in STATES:
        state = None
    cadre = request.args.get("cadre") or None
    data = map_geojson(db(), principal.scope, month, request.args.get("area") or None, cadre, state)
    areas = db().execute(principal.scope.filter(
        select(Area.code, Area.name, Area.level).where(Area.level.in_(("town", "village"))), Area.id)
        .order_by(Area.code)).all()
    cadres = db().execute(principal.scope.filter(
        select(Household.cadre, User.display_name).distinct()
        .outerjoin(User, User.username == Household.cadre).where(Household.cadre.is_not(None)), Household.area_id)
        .order_by(Household.cadre)).all()
    db().commit()
    unlocated = [f["properties"] for f in data["features"] if f["geometry"] is None]
    filters = {"month": month, "area": data["filters"]["area"] or "", "cadre": cadre or "", "state": state or ""}
    labels = {"states": {s: str(STATE_LABELS[s]) for s in STATES},
              "verdicts": {k or "": str(v) for k, v in VERDICT_LABELS.items()},
              "reasons": {code: str(label) for code, label in REASON_LABELS.items()},
              "open_file": gettext("打开一户一档"), "open_submission": gettext("查看这次走访"),
              "visit": gettext("入户走访"), "cadre": gettext("帮扶责任人"), "distance": gettext("距该户 %(m)s 米"),
              "accuracy": gettext("定位精度 %(m)s 米"), "visits": gettext("本月走访 %(n)s 次"),
              "cluster_villages": gettext("%(n)s 个村"), "cluster_households": gettext("%(n)s 户")}
    # compact JSON, safe inside <script> (a county's map is a few megabytes: the spaces matter)
    embedded = htmlsafe_json_dumps(data, separators=(",", ":"), ensure_ascii=False)
    return render_template("mapview/map.html", data=data, embedded=embedded, labels=labels, filters=filters,
                           areas=areas, cadres=cadres, states=STATES, state_labels=STATE_LABELS,
                           unlocated=unlocated, default_month=month == this_month(),
                           tile_url=current_app.config.get("ZOUFANG_TILE_URL") or "",
                           tile_attribution=current_app.config.get("ZOUFANG_TILE_ATTRIBUTION") or "")

