"""Importing the registered-household roster (建档立卡): one row per person, Chinese headers (English accepted).

Every row is validated first (marshmallow for the row, then the rules across rows of a household and across
the file); one error anywhere refuses the whole file, with each error's row number and reason. Only then is
anything written, in the caller's transaction. A household whose rows did not change is left alone, so
re-importing the same file changes nothing; a changed household is updated and its entity version moves on,
which changes the households.csv that devices download.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates
from sqlalchemy import Boolean, String, column, delete, insert, select, table
from sqlalchemy.orm import Session

from server.db import utcnow
from server.errors import DomainError
from sync import idcard
from sync.entity_list import bump_revision
from sync.models import HOUSEHOLD_STATUSES, Area, Household, Job, Member
from sync.rules import MONITORING_TYPES
from sync.tables import Row, read_table

@dataclasses.dataclass(frozen=True)
class Column:
    """A roster column: what the import reads and what a template (pages) offers, defined once here."""
    #: the canonical field name
    key: str
    #: the header as users write it, used in every message
    zh: str
    #: the English header, also accepted
    en: str
    #: a file without this header is refused; an optional column may be left out of the file entirely
    required: bool
    #: what goes in it, for a template's hint row
    hint_zh: str
    hint_en: str


#: the roster's columns, in the order of the sample and the template
COLUMNS = (
    Column("household_number", "户编号", "household_number", True, "6–32 位数字", "6–32 digits"),
    Column("area_code", "行政区划代码", "area_code", True, "已导入的村或组的代码", "code of an imported village or group"),
    Column("village_name", "村名", "village", True, "可空；填写时须与代码的名称一致", "optional; must match the code's name"),
    Column("name", "姓名", "name", True, "", ""),
    Column("id_number", "证件号码", "id_number", True, "18 位身份证号码", "18-character ID number"),
    Column("relation", "与户主关系", "relation", True, "户主、配偶、之子、之女……", "户主, 配偶, 之子, 之女, …"),
    Column("sex", "性别", "sex", True, "男 或 女", "男 or 女"),
    Column("birth_date", "出生日期", "birth_date", True, "YYYY-MM-DD", "YYYY-MM-DD"),
    Column("schooling", "在校生状况", "schooling", True, "非在校生、学龄前儿童、义务教育（小学、初中、送教上门）、普通高中……",
           "非在校生, 学龄前儿童, 义务教育 (小学, 初中, 送教上门), 普通高中, …"),
    Column("insured", "是否参加城乡居民基本医疗保险", "medical_insurance", True, "是 或 否", "是 or 否"),
    Column("health", "健康状况", "health", True, "健康、长期慢性病、患有大病、残疾", "健康, 长期慢性病, 患有大病, 残疾"),
    Column("labour", "劳动技能", "labour", True, "普通劳动力、弱劳动力、无劳动力", "普通劳动力, 弱劳动力, 无劳动力"),
    Column("status", "户类型", "household_type", True,
           "未脱贫、已脱贫、返贫，或监测户的类别：脱贫不稳定户、边缘易致贫户、突发严重困难户",
           "未脱贫, 已脱贫, 返贫, or the kind of 监测户: 脱贫不稳定户, 边缘易致贫户, 突发严重困难户"),
    Column("poverty_cause", "主要致贫原因", "poverty_cause", True, "因病、因残、因学……", "因病, 因残, 因学, …"),
    Column("latitude", "纬度", "latitude", True, "可空；WGS84", "optional; WGS84"),
    Column("longitude", "经度", "longitude", True, "可空；WGS84", "optional; WGS84"),
    Column("cadre", "帮扶责任人", "cadre", True, "已有账号的登录名，或唯一的显示名", "an account's login name, or its unique display name"),
    Column("phone", "联系电话", "phone", False, "可空；手机或座机号码", "optional; mobile or landline number"),
)
# accepted headers → canonical field names
HEADERS = {header: c.key for c in COLUMNS for header in (c.zh, c.en)}
OPTIONAL = frozenset(c.key for c in COLUMNS if not c.required)
# how each canonical field is named in messages
COLUMN_ZH = {c.key: c.zh for c in COLUMNS}
COLUMN_EN = {c.key: c.en for c in COLUMNS}
HOUSEHOLD_FIELDS = ("area_code", "village_name", "status", "poverty_cause", "latitude", "longitude", "cadre", "phone")
HEAD = "户主"
# what some rosters write instead of the statuses; the kinds of 监测户 are kept (DOMAIN.md "Precisions")
STATUS_ALIASES = {"贫困户": "未脱贫"}
ROSTER_STATUSES = tuple(s for s in HOUSEHOLD_STATUSES if s != "监测户") + MONITORING_TYPES + ("监测户",)
# the accounts table, read by name: sync may not import the server's models (tests/unit/test_package_boundaries.py)
_users = table("users", column("username", String), column("display_name", String), column("active", Boolean))
YES = {"是", "yes", "y", "true", "1"}
NO = {"否", "no", "n", "false", "0"}


def _date(value: str) -> str:
    """Excel gives datetimes ("1947-07-18 00:00:00"); people type 1947/7/18 or 19470718."""
    value = value.strip().split(" ")[0].replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    parts = value.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return value


class RosterRowSchema(Schema):
    household_number = fields.String(required=True, validate=validate.Regexp(r"^\d{6,32}$",
                                     error="户编号应为 6–32 位数字 / must be 6–32 digits"))
    area_code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,32}$",
                              error="行政区划代码应为数字 / must be digits"))
    village_name = fields.String(load_default="")
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    id_number = fields.String(required=True)
    relation = fields.String(required=True, validate=validate.Length(min=1, max=16))
    sex = fields.String(required=True, validate=validate.OneOf(["男", "女"], error="应为 男 或 女 / must be 男 or 女"))
    birth_date = fields.Date(required=True, format="%Y-%m-%d",
                             error_messages={"invalid": "日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD"})
    schooling = fields.String(load_default="", validate=validate.Length(max=16))
    insured = fields.String(required=True)
    health = fields.String(load_default="", validate=validate.Length(max=16))
    labour = fields.String(load_default="", validate=validate.Length(max=16))
    status = fields.String(required=True, validate=validate.OneOf(
        ROSTER_STATUSES, error=f"户类型应为 {'、'.join(ROSTER_STATUSES)} 之一 / unknown household type"))
    poverty_cause = fields.String(load_default="", validate=validate.Length(max=32))
    latitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(
        -90, 90, error="应在 -90 到 90 之间 / must be between -90 and 90"))
    longitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(
        -180, 180, error="应在 -180 到 180 之间 / must be between -180 and 180"))
    cadre = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(load_default="", validate=validate.Regexp(
        r"^(\+?\d[\d-]{5,19})?$", error="电话号码只能包含数字和“-”，6–20 位 / a phone number is 6–20 digits or '-'"))

    @pre_load
    def _normalize(self, data: dict[str, Any], **_kwargs) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if v != "" or k in ("village_name",)}
        if "birth_date" in data:
            data["birth_date"] = _date(data["birth_date"])
        if "status" in data:
            data["status"] = STATUS_ALIASES.get(data["status"], data["status"])
        if "id_number" in data:
            data["id_number"] = idcard.normalize(data["id_number"])
        if "phone" in data:
            data["phone"] = re.sub(r"\s", "", data["phone"])
        return data

    @validates("id_number")
    def _id_number(self, value: str, **_kwargs) -> None:
        if not idcard.check_digit_ok(value):
            raise ValidationError("身份证号码校验位错误或格式不对 / ID number fails its check digit or shape")

    @validates("insured")
    def _insured(self, value: str, **_kwargs) -> None:
        if value.strip().lower() not in YES | NO:
            raise ValidationError("应为 是 或 否 / must be 是 or 否")


@dataclasses.dataclass
class RosterError:
    row: int
    #: the column's Chinese header (COLUMNS), as the file's user knows it
    column: str | None
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _error(row: int, key: str, zh: str, en: str) -> RosterError:
    return RosterError(row, COLUMN_ZH[key], f"{COLUMN_ZH[key]}：{zh}", f"{COLUMN_EN[key]}: {en}")


@dataclasses.dataclass
class ParsedHousehold:
    number: str
    fields: dict[str, Any]
    members: list[dict[str, Any]]
    rows: list[int]

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps([self.fields, self.members], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Accounts:
    """The accounts a 帮扶责任人 cell may name: by login name, or by display name when only one account has it."""
    #: login name → display name, of active accounts
    names: dict[str, str]

    def resolve(self, value: str) -> tuple[str | None, str | None, str | None]:
        """(login name, None, None), or (None, Chinese reason, English reason)."""
        if value in self.names:
            return value, None, None
        matches = sorted(u for u, display in self.names.items() if display == value)
        if len(matches) == 1:
            return matches[0], None, None
        if matches:
            return (None, f"“{value}”是 {len(matches)} 个账号的显示名（{'、'.join(matches)}），请填写登录名",
                    f"'{value}' is the display name of {len(matches)} accounts ({', '.join(matches)}); give the login "
                    "name")
        return (None, f"没有登录名或显示名为“{value}”的账号，请先建账号或改正姓名",
                f"no account has the login or display name '{value}'; create the account or correct the name")


def parse_roster(rows: list[Row], areas: dict[str, Area],
                 accounts: Accounts) -> tuple[list[ParsedHousehold], list[RosterError]]:
    """Pure: rows, the known areas and accounts → households, or every error found. A row's errors are all
    reported at once: the checks across columns and rows run on whatever of the row was valid."""
    schema = RosterRowSchema()
    errors: list[RosterError] = []
    loaded: list[tuple[Row, dict[str, Any]]] = []
    failed: set[str] = set()  # households with a row that did not load: their cross-row checks would mislead
    for row in rows:
        try:
            data = schema.load(row.values, unknown="exclude")
        except ValidationError as exc:
            data = exc.valid_data or {}
            failed.add(data.get("household_number") or row.values.get("household_number", ""))
            for key, messages in sorted(exc.messages.items()):
                for message in messages if isinstance(messages, list) else [str(messages)]:
                    zh, _, en = str(message).partition(" / ")
                    errors.append(_error(row.number, key, _zh_message(zh), en or zh))
        errors.extend(_cadre_error(row, data, accounts))
        loaded.append((row, data))
    errors.extend(_person_errors(loaded))
    by_household: dict[str, list[tuple[Row, dict[str, Any]]]] = defaultdict(list)
    for row, data in loaded:
        if "household_number" in data:
            by_household[data["household_number"]].append((row, data))
    households = []
    for number, members in by_household.items():
        if number in failed:
            continue
        found = _household_errors(number, members, areas)
        errors.extend(found)
        if not found:
            households.append(_household(number, members))
    errors.sort(key=lambda e: (e.row, e.column or ""))
    return households, errors


def _zh_message(text: str) -> str:
    """marshmallow's own messages are English; the ones a roster can trigger get a Chinese text."""
    if text.startswith("Length must be"):
        return "长度超出允许范围"
    return {"Missing data for required field.": "必填，不能为空", "Not a valid number.": "不是有效的数字",
            "Not a valid string.": "不是有效的文字"}.get(text, text)


def _cadre_error(row: Row, data: dict[str, Any], accounts: Accounts) -> list[RosterError]:
    """帮扶责任人 names an account: the household's cadre is that login name (coverage and devices use it)."""
    if not data.get("cadre"):
        return []
    username, zh, en = accounts.resolve(data["cadre"])
    if username is None:
        return [_error(row.number, "cadre", zh, en)]
    data["cadre"] = username
    return []


def _person_errors(loaded: list[tuple[Row, dict[str, Any]]]) -> list[RosterError]:
    errors = []
    seen: dict[str, int] = {}
    for row, data in loaded:
        number = data.get("id_number")
        if number is None:
            continue
        if number in seen:
            errors.append(_error(row.number, "id_number", f"与第 {seen[number]} 行重复",
                                 f"the same ID number as row {seen[number]}"))
        else:
            seen[number] = row.number
        if "birth_date" in data and idcard.birth_date(number) != data["birth_date"]:
            errors.append(_error(row.number, "birth_date", "出生日期与身份证号码中的出生日期不一致",
                                 "does not match the birth date in the ID number"))
        if "sex" in data and idcard.sex(number) != data["sex"]:
            errors.append(_error(row.number, "sex", "性别与身份证号码不一致", "does not match the ID number"))
    return errors


def _household_errors(number: str, members: list[tuple[Row, dict[str, Any]]],
                      areas: dict[str, Area]) -> list[RosterError]:
    errors = []
    first_row, first = members[0]
    for row, data in members[1:]:
        for name in HOUSEHOLD_FIELDS:
            if data[name] != first[name]:
                errors.append(_error(
                    row.number, name, f"户 {number} 的{COLUMN_ZH[name]}与第 {first_row.number} 行不一致"
                    f"（“{data[name] or ''}” ≠ “{first[name] or ''}”）",
                    f"household {number} has '{data[name] or ''}' here but '{first[name] or ''}' "
                    f"on row {first_row.number}"))
    heads = [row.number for row, data in members if data["relation"] == HEAD]
    # a missing head is reported on the household's first row, extra heads on their own rows
    for row_number in (heads[1:] if heads else [first_row.number]):
        errors.append(_error(row_number, "relation", f"户 {number} 应恰好有一名户主，现有 {len(heads)} 名",
                             f"household {number} must have exactly one 户主 (head), has {len(heads)}"))
    area = areas.get(first["area_code"])
    if area is None or area.level not in ("village", "group"):
        errors.append(_error(first_row.number, "area_code", f"“{first['area_code']}”不是已导入的村或组",
                             f"'{first['area_code']}' is not a known village or group"))
    elif first["village_name"] and first["village_name"] != area.name:
        errors.append(_error(first_row.number, "village_name",
                             f"村名“{first['village_name']}”与代码 {area.code} 的名称“{area.name}”不符",
                             f"'{first['village_name']}' is not the name of {area.code} ('{area.name}')"))
    if (first["latitude"] is None) != (first["longitude"] is None):
        errors.append(_error(first_row.number, "latitude", "纬度和经度应同时填写或同时留空",
                             "give both latitude and longitude, or neither"))
    return errors


def _household(number: str, members: list[tuple[Row, dict[str, Any]]]) -> ParsedHousehold:
    ordered = sorted(members, key=lambda m: (m[1]["relation"] != HEAD, m[0].number))
    first = ordered[0][1]
    people = [{key: data[key] for key in ("name", "id_number", "relation", "sex", "birth_date", "schooling",
                                          "health", "labour")} | {"insured": data["insured"].strip().lower() in YES}
              for _row, data in ordered]
    # fields a roster may leave out are only part of the fingerprint when given: adding the column changes nothing
    fields_ = {name: first[name] for name in HOUSEHOLD_FIELDS if first[name] or name not in OPTIONAL}
    # a kind of 监测户 is kept beside the status (DOMAIN.md "Precisions": monitoring subtypes are kept, not folded)
    if fields_["status"] in MONITORING_TYPES:
        fields_["status"], fields_["monitoring_type"] = "监测户", fields_["status"]
    return ParsedHousehold(number=number, fields=fields_, members=people, rows=[row.number for row, _data in members])


@dataclasses.dataclass
class ImportResult:
    rows: int
    households: int
    created: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def import_roster(session: Session, content: bytes, filename: str,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    rows = read_table(content, filename, HEADERS, OPTIONAL)
    areas = {a.code: a for a in session.scalars(select(Area))}
    accounts = Accounts(dict(session.execute(select(_users.c.username, _users.c.display_name)
                                             .where(_users.c.active.is_(True))).all()))
    households, errors = parse_roster(rows, areas, accounts)
    if errors:
        raise DomainError("invalid", "roster.invalid", f"名单有 {len(errors)} 处错误，全部未导入。请按行号修改后重新导入。",
                          f"The roster has {len(errors)} error(s); nothing was imported. Fix the rows listed and "
                          "import it again.", details={"errors": [e.to_dict() for e in errors]})
    existing = {number: (hid, fingerprint, version) for number, hid, fingerprint, version in session.execute(
        select(Household.number, Household.id, Household.roster_fingerprint, Household.roster_version))}
    created = updated = 0
    changed: list[str] = []
    now = utcnow()
    for done, parsed in enumerate(households, start=1):
        fingerprint = parsed.fingerprint
        known = existing.get(parsed.number)
        if known and known[1] == fingerprint:
            pass
        else:
            changed.append(parsed.number)
            values = _household_values(parsed, areas, fingerprint, now)
            if known is None:
                household = Household(number=parsed.number, created_at=now, **values)
                session.add(household)
                session.flush()
                household_id = household.id
                created += 1
            else:
                household_id = known[0]
                session.execute(Household.__table__.update().where(Household.id == household_id)
                                .values(roster_version=known[2] + 1, **values))
                session.execute(delete(Member).where(Member.household_id == household_id))
                updated += 1
            session.execute(insert(Member), [{"household_id": household_id, "position": position, **person}
                                             for position, person in enumerate(parsed.members)])
        if progress:
            progress(done, len(households))
    if changed:
        bump_revision(session, "households")
        queue_households(session, changed)
    session.flush()
    return ImportResult(rows=len(rows), households=len(households), created=created, updated=updated,
                        unchanged=len(households) - created - updated)


def queue_households(session: Session, numbers: list[str], chunk: int = 500) -> None:
    """A roster change changes records (members, status): reconcile those households, a job per chunk."""
    for start in range(0, len(numbers), chunk):
        session.add(Job(kind="reconcile", payload={"households": numbers[start:start + chunk]}))


def _household_values(parsed: ParsedHousehold, areas: dict[str, Area], fingerprint: str,
                      now: dt.datetime) -> dict[str, Any]:
    fields_ = parsed.fields
    values = {
        "area_id": areas[fields_["area_code"]].id, "head_name": parsed.members[0]["name"],
        "status": fields_["status"], "monitoring_type": fields_.get("monitoring_type"),
        "poverty_cause": fields_["poverty_cause"] or None, "cadre": fields_["cadre"] or None,
        "phone": fields_.get("phone") or None, "roster_fingerprint": fingerprint, "updated_at": now,
    }
    if fields_["latitude"] is not None:  # a roster without coordinates keeps a location a supervisor confirmed
        values.update(latitude=fields_["latitude"], longitude=fields_["longitude"])
    return values
