"""``villagebot report …``: the officials' exports from the command line (run as the system, no user).

    villagebot report summary    --county 桃源县 --month 2026-11 -o summary.xlsx
    villagebot report problems   --county 桃源县 --township 新桥镇 --month 2026-11
    villagebot report monitoring --county 桃源县 --quarter 2026Q3 -o monitoring.xlsx
    villagebot report benefit    --county 桃源县 --quarter 2026Q3
    villagebot report halfyear   --county 桃源县 --half 2026H2 -o report.pdf

``--county`` may be left out when the installation has one county; without ``-o`` the file is
written in the current folder under a name made of the unit, the form and the period.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlmodel import Session, select

from bot.i18n import N_
from bot.services import exports
from bot.services.orgs import OrgError, child, find_unit
from bot.services.oversight import OversightError
from bot.storage.models import OrgUnit

if TYPE_CHECKING:
    from bot.cli import Context

TITLES = {
    "summary": "月度报告汇总",
    "problems": "问题清单",
    "monitoring": "运行监测表",
    "benefit": "效益评估表",
    "halfyear": "半年报告",
}


@click.group("report")
def report() -> None:
    """Exports for township and county officials: 附件2, 附件3, problem list, summaries, half-year PDF."""


def _unit(ctx: Context, session: Session, county_key: str | None, township_name: str | None) -> OrgUnit:
    if county_key:
        county = find_unit(session, county_key, "county")
    else:
        counties = session.exec(select(OrgUnit).where(OrgUnit.level == "county")).all()
        if len(counties) != 1:
            ctx.fail(N_("Name the county with --county (there are {n})."), n=len(counties))
        county = counties[0]
    if not township_name:
        return county
    township = child(session, county, township_name)
    if township is None:
        ctx.fail(N_("{county} has no township called {name}."), county=county.name, name=township_name)
    return township


def _run(ctx: Context, kind: str, county: str | None, township: str | None, period: str, out: Path | None) -> None:
    """Write one export and say where; refusals and bad periods end with exit status 2."""
    with Session(ctx.engine) as session:
        try:
            unit = _unit(ctx, session, county, township)
            target = out or Path(
                f"{unit.name}-{TITLES[kind]}-{period}.{'pdf' if kind == 'halfyear' else 'xlsx'}"
            )
            writers: dict[str, Callable[..., Any]] = {
                "summary": exports.write_summary,
                "problems": exports.write_problems,
                "monitoring": exports.write_monitoring,
                "benefit": exports.write_benefit,
                "halfyear": exports.write_half_year,
            }
            writer = writers[kind]
            if kind != "halfyear" and target.suffix.lower() == ".csv":  # -o FILE.csv: the same table as CSV
                result = writer(session, None, unit, period, target, fmt="csv")
            else:
                result = writer(session, None, unit, period, target)
        except (OrgError, OversightError) as exc:
            ctx.fail(exc.msgid, **exc.params)
    rows = len(result.townships) if kind == "halfyear" else len(result)
    click.echo(ctx.t(N_("Wrote {path} ({rows} rows)."), path=str(target), rows=rows))


def _options(period_option):
    def wrap(func):
        for option in reversed(
            [
                click.option("--county", "county", default=None, help="County name or 12-digit code."),
                click.option(
                    "--township", "township", default=None, help="Only this township of the county."
                ),
                period_option,
                click.option(
                    "-o",
                    "--output",
                    "out",
                    type=click.Path(dir_okay=False, path_type=Path),
                    default=None,
                    help="File to write (.xlsx, or .csv for the same table as CSV).",
                ),
            ]
        ):
            func = option(func)
        return click.pass_obj(func)

    return wrap


MONTH = click.option("--month", "period", required=True, help="Month, YYYY-MM.")
QUARTER = click.option("--quarter", "period", required=True, help="Quarter, e.g. 2026Q3.")
HALF = click.option("--half", "period", required=True, help="Half-year, e.g. 2026H2.")


@report.command("summary")
@_options(MONTH)
def summary(ctx: Context, county, township, period, out) -> None:
    """The month's reporting summary by village (.xlsx)."""
    _run(ctx, "summary", county, township, period, out)


@report.command("problems")
@_options(MONTH)
def problems(ctx: Context, county, township, period, out) -> None:
    """The month's problem list, 问题清单 (.xlsx)."""
    _run(ctx, "problems", county, township, period, out)


@report.command("monitoring")
@_options(QUARTER)
def monitoring(ctx: Context, county, township, period, out) -> None:
    """The quarterly operation-monitoring form, 附件2 (.xlsx)."""
    _run(ctx, "monitoring", county, township, period, out)


@report.command("benefit")
@_options(QUARTER)
def benefit(ctx: Context, county, township, period, out) -> None:
    """The quarterly benefit self-evaluation form, 附件3 (.xlsx)."""
    _run(ctx, "benefit", county, township, period, out)


@report.command("halfyear")
@_options(HALF)
def halfyear(ctx: Context, county, township, period, out) -> None:
    """The county's printable half-year report (.pdf)."""
    _run(ctx, "halfyear", county, township, period, out)
