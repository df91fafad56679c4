"""The area tree: importing it from the admins' list (代码, 名称, 上级代码, 层级) and keeping paths right."""
from __future__ import annotations

from typing import Collection, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import DomainError
from sync.models import Area
from sync.tables import Row, read_table

HEADERS = {"代码": "code", "code": "code", "名称": "name", "name": "name",
           "上级代码": "parent_code", "parent_code": "parent_code", "层级": "level", "level": "level"}
LEVELS = {"县": "county", "区": "county", "县区": "county", "county": "county",
          "乡镇": "town", "乡": "town", "镇": "town", "街道": "town", "town": "town",
          "村": "village", "行政村": "village", "社区": "village", "village": "village",
          "组": "group", "村民小组": "group", "group": "group"}
DEPTH = {"county": 0, "town": 1, "village": 2, "group": 3}



def area_by_code(session: Session, code: str, allowed: Optional[Collection[int]] = None) -> Area:
    """The area with this code: the one way pages, API, coverage and review find an area a filter names. An area
    outside `allowed` (the caller's area ids; None: every area) is not found, exactly as if it did not exist."""
    area = session.scalar(select(Area).where(Area.code == code))
    if area is None or (allowed is not None and area.id not in allowed):
        raise DomainError("not_found", "area.not_found", f"没有代码为 {code} 的区域。", f"There is no area {code}.")
    return area


def import_areas(session: Session, content: bytes, filename: str) -> dict[str, int]:
    """Create or update every area in the file; all rows are checked before anything is written."""
    rows = read_table(content, filename, HEADERS)
    existing = {a.code: a for a in session.scalars(select(Area))}
    errors, by_code = _validate(rows, existing)
    if errors:
        raise DomainError("invalid", "areas.invalid", f"区域表有 {len(errors)} 处错误，未导入。",
                          f"The area list has {len(errors)} error(s); nothing was imported.",
                          details={"errors": errors})
    created = updated = 0
    for code in _parents_first(by_code):
        row = by_code[code]
        level = LEVELS[row.values["level"]]
        parent = existing.get(row.values["parent_code"]) if row.values["parent_code"] else None
        area = existing.get(code)
        if area is None:
            area = Area(code=code, name=row.values["name"], level=level, parent=parent, path="")
            session.add(area)
            existing[code] = area
            created += 1
        elif (area.name, area.level, area.parent_id) != (row.values["name"], level, parent.id if parent else None):
            area.name, area.level, area.parent = row.values["name"], level, parent
            updated += 1
        session.flush()
    _refresh_paths(session)
    return {"created": created, "updated": updated, "rows": len(rows)}


def _validate(rows: list[Row], existing: dict[str, Area]) -> tuple[list[dict], dict[str, Row]]:
    errors: list[dict] = []
    by_code: dict[str, Row] = {}

    def error(row: Row, zh: str, en: str) -> None:
        errors.append({"row": row.number, "message_zh": zh, "message_en": en})

    for row in rows:
        code, level = row.values["code"], row.values["level"]
        if not code.isdigit():
            error(row, f"代码“{code}”应为数字。", f"Code '{code}' must be digits.")
        elif code in by_code:
            error(row, f"代码“{code}”重复（第 {by_code[code].number} 行已有）。",
                  f"Code '{code}' repeats row {by_code[code].number}.")
        else:
            by_code[code] = row
        if not row.values["name"]:
            error(row, "名称为空。", "The name is empty.")
        if level not in LEVELS:
            error(row, f"层级“{level}”无法识别（县、乡镇、村、组）。",
                  f"Level '{level}' is not one of county, town, village, group.")
    for code, row in by_code.items():
        parent_code = row.values["parent_code"]
        level = LEVELS.get(row.values["level"])
        if not parent_code:
            if level and level != "county":
                error(row, "只有县级区域可以没有上级代码。", "Only a county may have no parent code.")
            continue
        parent_row = by_code.get(parent_code)
        parent_level = LEVELS.get(parent_row.values["level"]) if parent_row else (
            existing[parent_code].level if parent_code in existing else None)
        if parent_row is None and parent_code not in existing:
            error(row, f"上级代码“{parent_code}”不存在。", f"Parent code '{parent_code}' does not exist.")
        elif level and parent_level and DEPTH[parent_level] != DEPTH[level] - 1:
            error(row, f"层级不对：{row.values['level']} 的上级不能是 {parent_level}。",
                  f"Level mismatch: a {level} cannot belong to a {parent_level}.")
    return errors, by_code


def _parents_first(by_code: dict[str, Row]) -> list[str]:
    return sorted(by_code, key=lambda code: DEPTH[LEVELS[by_code[code].values["level"]]])


def _refresh_paths(session: Session) -> None:
    """A moved area moves its subtree: recompute every path top-down."""
    areas = session.scalars(select(Area)).all()
    children: dict[int | None, list[Area]] = {}
    for area in areas:
        children.setdefault(area.parent_id, []).append(area)
    stack = [(a, "/") for a in children.get(None, [])]
    while stack:
        area, prefix = stack.pop()
        area.path = f"{prefix}{area.id}/"
        stack.extend((child, area.path) for child in children.get(area.id, []))
    session.flush()
