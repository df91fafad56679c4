"""Is a visit real? GPS at the door near the house and photos taken then and there (DOMAIN.md "Visit coverage":
the seeds warn against paper visits, 慰问式、走访式帮扶, 数字脱贫, 弄虚作假).

Pure: a visit record, the household's known location, what is known of the visit's photos and the thresholds in,
a verdict with its reasons out: "verified", "questionable" (with reasons) or "no_evidence"; or "attempt" for a
visit that found nobody home (DOMAIN.md Precisions: "counts as an attempt, not a visit"), which is not judged as a
visit: it needs no family photo and never counts as one.

Housing assessments and income surveys are judged by the same evidence (GPS at the house, photos taken on the
form's date and where its GPS says), but they are not counted as visits: what is wrong with their evidence becomes
data-quality findings on the household (`entry_findings`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable

from geopy.distance import geodesic, great_circle

from sync.forms import VISIT_FORM, definition
from sync.forms.base import FormDefinition, Text
from sync.forms.visit import VISITED

CHINA = dt.timezone(dt.timedelta(hours=8))
BAD_IMAGE = ("not_an_image", "unsupported_format", "too_many_pixels", "dimensions_too_large", "truncated", "corrupt")
#: the visit form's photos as evidence: their names in a sentence and the ones a visit must have (sync/forms/visit.py)
PHOTOS = definition(VISIT_FORM).evidence
ATTEMPT = "attempt"


@dataclasses.dataclass(frozen=True)
class Basis:
    """How reasons name what a photo is compared with: a visit's GPS and filling time, or another form's GPS and
    date."""
    gps: Text
    time: Text


VISIT_BASIS = Basis(Text("走访定位", "the visit's GPS"), Text("填表时间", "when the form was filled"))
FORM_BASIS = Basis(Text("表上定位", "the form's GPS"), Text("表上日期", "the form's date"))


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: list[dict[str, Any]]


def _reason(code: str, zh: str, en: str, **details) -> dict[str, Any]:
    return {"code": code, "message_zh": zh, "message_en": en, "details": details}


#: the ellipsoid's distance over the sphere's is at most 1.0045 anywhere (tests/unit/sync/test_evidence_distance.py)
SPHERE_MARGIN = 1.01


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic(a, b).meters


def metres_beyond(a: tuple[float, float], b: tuple[float, float], limit: float) -> int | None:
    """The distance in whole metres when it is over `limit`, None when it is not. The ellipsoid's distance costs
    eight times the sphere's, and a rebuild measures a million visits, nearly all at the door: a sphere's distance
    clearly inside the limit settles it; anything else is measured on the ellipsoid."""
    if great_circle(a, b).meters * SPHERE_MARGIN < limit:
        return None
    distance = round(metres(a, b))
    return distance if distance > limit else None


def judge_visit(visit: dict[str, Any], household_location: tuple[float, float] | None,
                photos: dict[str, dict[str, Any]], observed_at: dt.datetime, evidence: dict[str, float]) -> Verdict:
    """`photos` maps a file name to {"received": bool, "image_check": str | None, "image_info": dict | None}."""
    if visit.get("outcome", VISITED) != VISITED:
        return Verdict(ATTEMPT, [_reason("attempt", "走访未遇（不在家或失联），不计为走访",
                                         "Nobody met (not at home or unreachable): an attempt, not a visit")])
    reasons: list[dict[str, Any]] = []
    gps = visit.get("gps")
    named = {role: name for role, name in (visit.get("photos") or {}).items() if name}
    received = [name for name in named.values() if photos.get(name, {}).get("received")]
    if not gps and not received:
        return Verdict("no_evidence", [_reason("no_evidence", "没有定位也没有照片", "Neither GPS nor a photo")])
    point = (gps["latitude"], gps["longitude"]) if gps else None
    if point is None:
        reasons.append(_reason("no_gps", "没有户门口定位", "No GPS at the door"))
    else:
        accuracy = gps.get("accuracy")
        if accuracy is None or accuracy > evidence["max_accuracy_m"]:
            reasons.append(_reason("gps_inaccurate", f"定位精度 {accuracy or '未知'} 米，超过 {evidence['max_accuracy_m']:g} 米",
                                   f"GPS accuracy {accuracy or 'unknown'} m is worse than {evidence['max_accuracy_m']:g} m",
                                   accuracy=accuracy))
        if household_location is None:
            reasons.append(_reason("no_household_location", "该户没有确认的位置，无法核对距离",
                                   "The household has no confirmed location to compare with"))
        else:
            reasons.extend(_distance_reasons(point, household_location, VISIT_BASIS.gps, evidence))
    for role in PHOTOS.required:
        if role not in named:
            caption = PHOTOS.photos[role]
            reasons.append(_reason("photo_missing", f"缺少{caption.zh}", f"No {caption.en}", photo=role))
    for role, name in named.items():
        reasons.extend(_photo_reasons(PHOTOS.photos.get(role), role, name, photos.get(name, {}), point, VISIT_BASIS,
                                      lambda taken: abs((taken - observed_at).total_seconds()) / 3600, evidence))
    return Verdict("questionable" if reasons else "verified", reasons)


def _distance_reasons(point: tuple[float, float], household_location: tuple[float, float], gps_name: Text,
                      evidence: dict[str, float]) -> list[dict[str, Any]]:
    distance = metres_beyond(point, household_location, evidence["max_distance_m"])
    if distance is None:
        return []
    en = gps_name.en[0].upper() + gps_name.en[1:]
    return [_reason("gps_far", f"{gps_name.zh}离该户 {distance} 米（允许 {evidence['max_distance_m']:g} 米）",
                    f"{en} is {distance} m from the household (allowed {evidence['max_distance_m']:g} m)",
                    distance_m=distance)]


def entry_findings(form: FormDefinition, entry: dict[str, Any], household_location: tuple[float, float] | None,
                   photos: dict[str, dict[str, Any]], evidence: dict[str, float]) -> list[dict[str, Any]]:
    """A housing assessment's or income survey's evidence as data-quality findings: its GPS far from the house,
    its photos not arrived, not images, taken away from the form's date (its day in China, give or take the
    photo time gap) or away from its GPS. A household without a known location, or a form without GPS, is not
    compared (the visits propose the location)."""
    gps = entry.get("gps")
    point = (gps["latitude"], gps["longitude"]) if gps else None
    reasons = _distance_reasons(point, household_location, FORM_BASIS.gps, evidence) if point and household_location \
        else []
    day = entry.get("date")
    opens = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(0), CHINA) if day else None

    def hours_from_day(taken: dt.datetime) -> float:
        if opens is None:
            return 0.0
        before, after = (opens - taken).total_seconds(), (taken - opens).total_seconds() - 86400
        return max(before, after, 0.0) / 3600

    for role, name in (entry.get("photos") or {}).items():
        if name:
            reasons.extend(_photo_reasons(form.evidence.photos.get(role), role, name, photos.get(name, {}), point,
                                          FORM_BASIS, hours_from_day, evidence))
    title = f"{form.title.zh}（{day or '无日期'}）", f"{form.title.en} ({day or 'undated'})"
    return [{"code": r["code"], "message_zh": f"{title[0]}：{r['message_zh']}",
             "message_en": f"{title[1]}: {r['message_en']}",
             "details": {"instance_id": entry.get("instance_id"), "form": form.form_id, **r["details"]}}
            for r in reasons]


def _photo_reasons(caption: Text | None, role: str, name: str, photo: dict[str, Any],
                   point: tuple[float, float] | None, basis: Basis, hours_away: Callable[[dt.datetime], float],
                   evidence: dict[str, float]) -> list[dict[str, Any]]:
    zh_name, en_name = (caption.zh, caption.en) if caption else (role, role)
    if not photo.get("received"):
        return [_reason("photo_missing", f"{zh_name}尚未上传", f"The {en_name} has not arrived", photo=name)]
    check = photo.get("image_check")
    if check in BAD_IMAGE:
        return [_reason("photo_invalid", f"{zh_name}不是有效的图片（{check}）", f"The {en_name} is not a valid image "
                        f"({check})", photo=name, check=check)]
    info = photo.get("image_info") or {}
    reasons = []
    taken = _taken_at(info.get("taken_at"))
    if taken is not None:
        gap = hours_away(taken)
        if gap > evidence["max_photo_time_gap_hours"]:
            reasons.append(_reason("photo_time_mismatch", f"{zh_name}的拍摄时间与{basis.time.zh}相差 {gap:.0f} 小时",
                                   f"The {en_name} was taken {gap:.0f} h away from {basis.time.en}",
                                   photo=name, hours=round(gap, 1)))
    if info.get("gps") and point is not None:
        gap_m = metres_beyond(tuple(info["gps"]), point, evidence["max_photo_gps_gap_m"])
        if gap_m is not None:
            reasons.append(_reason("photo_gps_mismatch", f"{zh_name}的拍摄位置离{basis.gps.zh} {gap_m} 米",
                                   f"The {en_name} was taken {gap_m} m from {basis.gps.en}", photo=name,
                                   distance_m=gap_m))
    return reasons


def _taken_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    stamp = dt.datetime.fromisoformat(value)
    # a camera's EXIF time without an offset is the phone's local time
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CHINA)


def proposed_location(visits: list[dict[str, Any]], evidence: dict[str, float]) -> dict[str, Any] | None:
    """For a household without a location: the first visit point accurate enough, for a supervisor to confirm."""
    for visit in visits:
        gps = visit.get("gps")
        if gps and gps.get("accuracy") is not None and gps["accuracy"] <= evidence["proposal_accuracy_m"]:
            return {"latitude": gps["latitude"], "longitude": gps["longitude"], "accuracy": gps["accuracy"],
                    "instance_id": visit["instance_id"], "at": visit["at"]}
    return None
