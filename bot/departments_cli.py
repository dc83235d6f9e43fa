"""``villagebot department …``: which industry categories a department officer's department supervises.

    villagebot department set USER_ID --category 种植业 --category 养殖业
    villagebot department list

Problems on an asset of one of these categories reach the officer (seed 002 第六、七条; docs/policy.md).
``set`` replaces the officer's categories (none: ``--category`` left out) and is audited
(``department.categories``); refusals end with exit status 2.
"""

from __future__ import annotations

import click
from sqlmodel import Session, col, select

from bot.i18n import N_
from bot.services import departments
from bot.storage.models import OrgUnit, User


@click.group("department")
def department() -> None:
    """Industry departments: the categories of assets whose problems reach each department officer."""


@department.command("set")
@click.argument("user_id", type=int)
@click.option("--category", "categories", multiple=True, help="An industry category, e.g. 种植业 (repeat).")
@click.pass_obj
def department_set(ctx, user_id: int, categories: tuple[str, ...]) -> None:
    """Set the industry categories of a department officer."""
    with Session(ctx.engine) as session:
        try:
            chosen = departments.set_categories(session, None, user_id, list(categories))
        except departments.DepartmentError as exc:
            ctx.fail(exc.msgid, **exc.params)
        session.commit()
        click.echo(ctx.t(N_("{name}: {categories}"), name=session.get(User, user_id).name,
                         categories="、".join(chosen) or "-"))


@department.command("list")
@click.pass_obj
def department_list(ctx) -> None:
    """Every department officer with the categories of their department."""
    with Session(ctx.engine) as session:
        officers = session.exec(select(User).where(User.role == "department_officer", col(User.active).is_(True))
                                .order_by(User.id)).all()
        for officer in officers:
            unit = session.get(OrgUnit, officer.org_unit_id) if officer.org_unit_id else None
            chosen = "、".join(departments.categories_of(session, officer.id)) or "-"
            click.echo(f"{officer.id}  {officer.name}  {unit.name if unit else '-'}  {chosen}")
