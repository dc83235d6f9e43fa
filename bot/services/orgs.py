"""The county → township → village tree: lookup by code or name, creation, import."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, select

from bot.i18n import N_
from bot.services import audit
from bot.storage.models import OrgUnit

CODE_RE = re.compile(r"^\d{12}$")
CHILD_LEVEL = {"county": "township", "township": "village"}


class OrgError(ValueError):
    """A lookup or import problem; ``msgid`` and ``params`` are translatable."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


def find_unit(session: Session, code_or_name: str, level: str | None = None) -> OrgUnit:
    """Return the one unit with this 12-digit code or this name; refuse unknown or ambiguous names."""
    key = code_or_name.strip()
    query = select(OrgUnit).where(OrgUnit.code == key) if CODE_RE.match(key) else select(OrgUnit).where(
        OrgUnit.name == key)
    if level:
        query = query.where(OrgUnit.level == level)
    found = session.exec(query).all()
    if not found:
        raise OrgError(N_("No county, township or village is called {name}."), name=key)
    if len(found) > 1:
        raise OrgError(N_("{name} is ambiguous: use its 12-digit division code."), name=key)
    return found[0]


def child(session: Session, parent: OrgUnit | None, name: str) -> OrgUnit | None:
    parent_id = parent.id if parent else None
    return session.exec(select(OrgUnit).where(OrgUnit.parent_id == parent_id, OrgUnit.name == name)).first()


def ensure_unit(session: Session, actor: audit.Actor, parent: OrgUnit | None, level: str, name: str,
                code: str | None = None) -> tuple[OrgUnit, bool]:
    """Return the named unit under ``parent``, creating it (audited) if new; the flag says created."""
    unit = child(session, parent, name)
    if unit is not None:
        if code and unit.code != code:
            before = {"code": unit.code}
            unit.code = code
            session.add(unit)
            audit.record(session, actor, "org.update", "org_unit", unit.id, before, {"code": code})
        return unit, False
    unit = OrgUnit(level=level, name=name, code=code or None, parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.add(unit)
    audit.record(session, actor, "org.create", "org_unit", unit.id, None,
                 {"level": level, "name": name, "code": code, "parent_id": unit.parent_id})
    return unit, True


def villages_by_name(session: Session) -> dict[tuple[str, str], OrgUnit]:
    """Return {(township name, village name): village} for the whole tree."""
    townships = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.level == "township")).all()}
    result = {}
    for village in session.exec(select(OrgUnit).where(OrgUnit.level == "village")).all():
        township = townships.get(village.parent_id)
        if township is not None:
            result[(township.name, village.name)] = village
    return result


def county_of(session: Session, unit: OrgUnit) -> OrgUnit:
    """Return the county a unit belongs to (itself if it is one)."""
    county_id = int(unit.path.strip("/").split("/")[0])
    return session.get(OrgUnit, county_id)


@dataclass
class OrgRow:
    line: int
    county: str
    township: str
    village: str
    code: str | None


@dataclass
class OrgImportResult:
    rows: int = 0
    created: int = 0
    errors: list = field(default_factory=list)


def import_org(session: Session, actor: audit.Actor, path, *, dry_run: bool = False) -> OrgImportResult:
    """Read the tree from a sheet with columns 县, 乡镇, 村 and optional 区划代码; write it unless errors."""
    from bot.services.sheets import Issue, SheetError, cell_text, norm_header, read_rows

    rows = read_rows(path)
    result = OrgImportResult()
    header_idx, cols = None, {}
    for idx, row in enumerate(rows[:20]):
        names = [norm_header(c) for c in row]
        if "村" in names and "乡镇" in names:
            header_idx = idx
            cols = {name: names.index(name) for name in ("县", "乡镇", "村", "区划代码") if name in names}
            break
    if header_idx is None or "县" not in cols:
        missing = "县, 乡镇, 村" if header_idx is None else "县"
        raise SheetError(N_("The header must have the columns {columns}."), columns=missing)
    parsed: list[OrgRow] = []
    seen_codes: dict[str, int] = {}
    for offset, row in enumerate(rows[header_idx + 1:]):
        line = header_idx + 2 + offset

        def get(name: str, row=row) -> str:
            i = cols.get(name)
            return cell_text(row[i]) if i is not None and i < len(row) else ""

        county, township, village, code = get("县"), get("乡镇"), get("村"), get("区划代码")
        if not any((county, township, village, code)):
            continue
        result.rows += 1
        for label, value in (("县", county), ("乡镇", township), ("村", village)):
            if not value:
                result.errors.append(Issue(line, label, N_("'{name}' is empty."), {"name": label}))
        if code and not CODE_RE.match(code):
            result.errors.append(Issue(line, "区划代码", N_("'{value}' is not a 12-digit division code."),
                                       {"value": code}))
        elif code and code in seen_codes:
            result.errors.append(Issue(line, "区划代码", N_("Code {code} is used twice (also on row {other})."),
                                       {"code": code, "other": seen_codes[code]}))
        elif code:
            seen_codes[code] = line
        parsed.append(OrgRow(line, county, township, village, code or None))
    if result.rows == 0:
        result.errors.append(Issue(None, None, N_("The file has a header but no rows."), {}))
    if result.errors:
        return result
    if dry_run:
        result.created = _count_new(session, parsed)
        return result
    for row in parsed:
        county, c1 = ensure_unit(session, actor, None, "county", row.county)
        township, c2 = ensure_unit(session, actor, county, "township", row.township)
        _, c3 = ensure_unit(session, actor, township, "village", row.village, row.code)
        result.created += c1 + c2 + c3
    return result


def _count_new(session: Session, parsed: list[OrgRow]) -> int:
    """Return how many units importing ``parsed`` would create, writing nothing."""
    new: set[tuple[str, ...]] = set()
    for row in parsed:
        county = child(session, None, row.county)
        township = child(session, county, row.township) if county else None
        village = child(session, township, row.village) if township else None
        for key, unit in (((row.county,), county), ((row.county, row.township), township),
                          ((row.county, row.township, row.village), village)):
            if unit is None:
                new.add(key)
    return len(new)
