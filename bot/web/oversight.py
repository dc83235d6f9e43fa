"""Township and county dashboards and their downloads (/oversight), for township and county roles.

- ``GET /oversight``: the signed-in user's own dashboard (an admin without a unit gets the list of counties).
- ``GET /oversight/{unit}?month=YYYY-MM``: a county's or a township's dashboard; every chart is an
  inline SVG drawn on the server with its table beside it.
- ``GET /oversight/{unit}/export/{kind}``: summary and problems (``?month=``), monitoring and
  benefit (``?quarter=2026Q3``), ledger, and the county's half-year PDF (``?half=2026H2``).

A unit outside the user's area, or an unknown id, is refused with the same 403 and no figure.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlmodel import Session, select

from bot.config import Settings
from bot.i18n import N_, translate
from bot.services import charts, exports, oversight
from bot.services.access import PERMISSIONS, AccessDenied, require
from bot.services.ledger import export_ledger
from bot.services.oversight import (
    AGE_BUCKETS,
    CLASSES,
    NO_CATEGORY,
    SEVERITIES,
    SEVERITY_LABELS,
    UNCLASSIFIED,
)
from bot.services.sheets import CSV_MEDIA
from bot.storage.models import ASSET_TYPES, OrgUnit, User
from bot.web.common import (
    MSG_FORBIDDEN,
    MSG_NOT_FOUND,
    RowId,
    WebError,
    locale_of,
    make_web,
    render,
    require_user,
    web,
)
from bot.web.labels import FUND_SOURCES

router = APIRouter(prefix="/oversight", tags=["oversight"])

PDF = "application/pdf"
EXPORTS = {  # kind → (needs, period parameter, action)
    "summary": ("month", "report.view"),
    "problems": ("month", "problem.view"),
    "monitoring": ("quarter", "report.view"),
    "benefit": ("quarter", "report.view"),
    "ledger": (None, "export.ledger"),
    "halfyear": ("half", "report.view"),
}
FILE_TITLES = {
    "summary": "月度报告汇总",
    "problems": "问题清单",
    "monitoring": "运行监测表",
    "benefit": "效益评估表",
    "ledger": "资产台账",
    "halfyear": "半年报告",
}


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the oversight pages to ``app`` (called by bot.web.app.create_app after bot.web.routes)."""
    if not hasattr(app.state, "web"):
        app.state.web = make_web(settings, engine)
    app.include_router(router)


def _viewer(request: Request, session: Session) -> User:
    user = require_user(request, session)
    if user.role not in oversight.OVERSIGHT_ROLES:
        raise WebError(403, MSG_FORBIDDEN)
    return user


def _unit(session: Session, user: User, unit_id: int, action: str = "report.view") -> OrgUnit:
    """Return the county or township ``unit_id`` if the user may see it.

    Unknown and foreign ids get the same 403.
    """
    unit = session.get(OrgUnit, unit_id)
    try:
        if unit is None:
            raise AccessDenied()
        require(session, user, action, unit)
    except AccessDenied as exc:
        raise WebError(403, exc.msgid, **exc.params) from None
    if unit.level not in ("county", "township"):
        raise WebError(404, MSG_NOT_FOUND)
    return unit


@router.get("", include_in_schema=False)
def home(request: Request):
    """Send the user to the dashboard of their county or township."""
    with web(request).session() as session:
        user = _viewer(request, session)
        if user.org_unit_id is not None:
            return RedirectResponse(f"/oversight/{user.org_unit_id}", status_code=303)
        counties = session.exec(select(OrgUnit).where(OrgUnit.level == "county").order_by(OrgUnit.name)).all()
    return render(request, "oversight/index.html", counties=counties)


@router.get("/{unit_id}", include_in_schema=False)
def dashboard_page(request: Request, unit_id: RowId, month: str | None = None):
    """Show a county's or a township's dashboard for a month (default: this month)."""
    with web(request).session() as session:
        user = _viewer(request, session)
        unit = _unit(session, user, unit_id)
        try:
            figures = oversight.dashboard(session, user, unit, month or None)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except oversight.OversightError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        townships = (
            session.exec(
                select(OrgUnit)
                .where(OrgUnit.parent_id == unit.id, OrgUnit.level == "township")
                .order_by(OrgUnit.name)
            ).all()
            if unit.level == "county"
            else []
        )
        parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
        can_see_parent = parent is not None and user.role in ("county_officer", "department_officer", "admin")
    locale = locale_of(request)
    year, mon = oversight.parse_month(figures.period)
    return render(
        request,
        "oversight/dashboard.html",
        unit=unit,
        figures=figures,
        townships=townships,
        parent=parent if can_see_parent else None,
        charts=_charts(locale, figures, townships),
        age_buckets=[b[0] for b in AGE_BUCKETS],
        severities=SEVERITIES,
        severity_labels=SEVERITY_LABELS,
        classes=CLASSES,
        unclassified=UNCLASSIFIED,
        no_category=NO_CATEGORY,
        fund_labels=FUND_SOURCES,
        asset_types=ASSET_TYPES,
        quarter=f"{year}Q{(mon - 1) // 3 + 1}",
        half=f"{year}H{1 if mon <= 6 else 2}",
        can_ledger="export.ledger" in PERMISSIONS.get(user.role, frozenset()),
        can_reinvite="user.reinvite" in PERMISSIONS.get(user.role, frozenset()),
    )


def _charts(locale: str, figures: oversight.Figures, townships: list[OrgUnit]) -> dict[str, Markup]:
    """Return the dashboard's SVG charts, keyed by section."""
    t = lambda msgid, **p: translate(locale, msgid, **p)  # noqa: E731
    if townships:
        rows = oversight.by_township(figures.villages)
        on_time = [(r.township, r.on_time_percent) for r in rows]
    else:
        on_time = [(r.village, r.on_time_percent) for r in figures.villages]
    return {
        "on_time": Markup(
            charts.bar_chart(
                t("Reports on time, {month}", month=figures.period), on_time, suffix="%", maximum=100
            )
        ),
        "problems": Markup(
            charts.bar_chart(
                t("Open problems by severity"),
                [(t(SEVERITY_LABELS[s]), n) for s, n in figures.open_by_severity().items()],
                colour=charts.COLOURS[2],
            )
        ),
        "classes": Markup(
            charts.bar_chart(
                t("Operating assets by four-way class"),
                [(c if c in CLASSES else t(c), n) for c, n in figures.classes.items()],
                colour=charts.COLOURS[3],
            )
        ),
        "industries": Markup(
            charts.bar_chart(
                t("Operating assets by industry category"),
                [(c if c != NO_CATEGORY else t(c), n) for c, n in figures.industries.items()],
                colour=charts.COLOURS[1],
            )
        ),
        "funds": Markup(
            charts.bar_chart(
                t("Funds by source (万元)"),
                [(t(FUND_SOURCES[s]), v) for s, v in figures.fund_totals().items()],
                colour=charts.COLOURS[4],
            )
        ),
        "trend": Markup(
            charts.column_chart(
                t("Reports done per month"), [(p.period[5:], p.done, p.on_time) for p in figures.trend]
            )
        ),
    }


@router.get("/{unit_id}/export/{kind}", include_in_schema=False)
def export(
    request: Request,
    unit_id: RowId,
    kind: str,
    month: str | None = None,
    quarter: str | None = None,
    half: str | None = None,
    format: str = "xlsx",
):
    """Download one export of a county or township (``?format=csv``: the same table as CSV, except the PDF)."""
    if kind not in EXPORTS:
        raise WebError(404, MSG_NOT_FOUND)
    needs, action = EXPORTS[kind]
    with web(request).session() as session:
        user = _viewer(request, session)
        unit = _unit(session, user, unit_id, action)
        period = {"month": month, "quarter": quarter, "half": half}.get(needs or "") or ""
        if needs and not period:
            raise WebError(400, N_("Choose the period of this export."))
        fmt = "csv" if format == "csv" and kind != "halfyear" else "xlsx"
        buffer = io.BytesIO()
        try:
            media = _write(session, user, unit, kind, period, buffer, fmt)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except oversight.OversightError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
    suffix = {PDF: "pdf", CSV_MEDIA: "csv"}.get(media, "xlsx")
    name = "-".join(p for p in (unit.name, FILE_TITLES[kind], period) if p) + f".{suffix}"
    return Response(
        buffer.getvalue(),
        media_type=media,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{kind}.{suffix}\"; filename*=UTF-8''{quote(name)}"
            ),
            "Cache-Control": "no-store",
        },
    )


def _write(session: Session, user: User, unit: OrgUnit, kind: str, period: str, out: io.BytesIO,
           fmt: str = "xlsx") -> str:
    """Write one export into ``out`` (as .xlsx, or CSV with ``fmt="csv"``) and return its media type."""
    if kind == "summary":
        exports.write_summary(session, user, unit, period, out, fmt)
    elif kind == "problems":
        exports.write_problems(session, user, unit, period, out, fmt=fmt)
    elif kind == "monitoring":
        exports.write_monitoring(session, user, unit, period, out, fmt)
    elif kind == "benefit":
        exports.write_benefit(session, user, unit, period, out, fmt)
    elif kind == "ledger":
        export_ledger(session, user, out, county=unit, fmt=fmt)
    else:
        exports.write_half_year(session, user, unit, period, out)
        return PDF
    return CSV_MEDIA if fmt == "csv" else exports.XLSX
