"""The ``villagebot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bot.config import ConfigError, Settings, load_settings
from bot.i18n import N_, translate

log = logging.getLogger("villagebot")


class Context:
    """Lazily built settings, engine and language shared by the subcommands."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._settings: Settings | None = None
        self._engine = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def engine(self):
        if self._engine is None:
            from bot.storage.db import make_engine

            self._engine = make_engine(self.settings.effective_database_url)
        return self._engine

    def t(self, msgid: str, **params: object) -> str:
        return translate(self.lang, msgid, **params)

    def fail(self, msgid: str, **params: object) -> None:
        click.echo(self.t(msgid, **params), err=True)
        sys.exit(2)


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option("--lang", default="zh_CN", type=click.Choice(["zh_CN", "en"]), show_default=True,
              help="Language of messages.")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def cli(click_ctx: click.Context, lang: str, verbose: bool) -> None:
    """VillageBot: follow-up management of poverty-alleviation project assets."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    click_ctx.obj = Context(lang)


# --- db -----------------------------------------------------------------------------------------

@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Migrate the database to the newest schema."""
    from bot.storage.db import upgrade

    upgrade(ctx.settings.effective_database_url)
    click.echo(ctx.t("Database is up to date."))


# --- import / export ---------------------------------------------------------------------------

@cli.group("import")
def import_() -> None:
    """Import the organisation tree or the asset ledger."""


def _print_issues(ctx: Context, issues, *, err: bool = True) -> None:
    for issue in issues:
        where = []
        if issue.row is not None:
            where.append(ctx.t("row {row}", row=issue.row))
        if issue.column:
            where.append(ctx.t("column {column}", column=issue.column))
        prefix = ", ".join(where)
        message = ctx.t(issue.msgid, **issue.params)
        click.echo(f"  {prefix}: {message}" if prefix else f"  {message}", err=err)


@import_.command("org")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and write nothing.")
@pass_ctx
def import_org_cmd(ctx: Context, file: Path, dry_run: bool) -> None:
    """Import the county → township → village tree (columns 县, 乡镇, 村, optional 区划代码)."""
    from bot.services import audit
    from bot.services.orgs import import_org
    from bot.services.sheets import SheetError
    from bot.storage.db import session_scope

    try:
        with session_scope(ctx.engine) as session:
            result = import_org(session, audit.Actor(None, "cli"), file, dry_run=dry_run)
            if result.errors:
                session.rollback()
    except SheetError as exc:
        ctx.fail(exc.msgid, **exc.params)
        return
    if result.errors:
        click.echo(ctx.t("{n} problem(s) found; nothing was written:", n=len(result.errors)), err=True)
        _print_issues(ctx, result.errors)
        sys.exit(2)
    key = N_("Checked {rows} rows; {created} units would be created.") if dry_run else N_(
        "Imported {rows} rows; {created} units created.")
    click.echo(ctx.t(key, rows=result.rows, created=result.created))


@import_.command("assets")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and write nothing.")
@pass_ctx
def import_assets_cmd(ctx: Context, file: Path, dry_run: bool) -> None:
    """Import the asset ledger (.xlsx or .csv in UTF-8 or GBK, official layout of 附件1)."""
    from tqdm import tqdm

    from bot.services.ledger import import_ledger
    from bot.services.sheets import SheetError
    from bot.storage.db import session_scope

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if total < 2000:
            return
        if bar is None:
            bar = tqdm(total=total, unit="row", desc=ctx.t("Checking rows"), file=sys.stderr, leave=False)
        bar.update(done - bar.n)

    try:
        with session_scope(ctx.engine) as session:
            result = import_ledger(session, None, file, dry_run=dry_run, progress=progress)
            if result.errors or dry_run:
                session.rollback()
    except SheetError as exc:
        ctx.fail(exc.msgid, **exc.params)
        return
    finally:
        if bar is not None:
            bar.close()
    if result.warnings:
        _print_issues(ctx, result.warnings)
    if result.errors:
        click.echo(ctx.t("{n} problem(s) found; nothing was written:", n=len(result.errors)), err=True)
        _print_issues(ctx, result.errors)
        sys.exit(2)
    key = N_("Checked {rows} rows: {created} new, {updated} changed, {unchanged} unchanged. Nothing written (dry run).") \
        if dry_run else N_("Imported {rows} rows: {created} new, {updated} changed, {unchanged} unchanged.")
    click.echo(ctx.t(key, rows=result.rows, created=result.created, updated=result.updated,
                     unchanged=result.unchanged))


@cli.group()
def export() -> None:
    """Export spreadsheets in the official layouts."""


@export.command("ledger")
@click.option("--county", "county_key", default=None, help="County name or 12-digit code (default: all).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The .xlsx file to write.")
@pass_ctx
def export_ledger_cmd(ctx: Context, county_key: str | None, output: Path) -> None:
    """Write the asset ledger in the layout of seed 000 附件1."""
    from bot.services.ledger import export_ledger
    from bot.services.orgs import OrgError, find_unit
    from bot.storage.db import session_scope

    with session_scope(ctx.engine) as session:
        county = None
        if county_key:
            try:
                county = find_unit(session, county_key, level="county")
            except OrgError as exc:
                ctx.fail(exc.msgid, **exc.params)
        count = export_ledger(session, None, output, county=county)
    click.echo(ctx.t("Wrote {n} assets to {path}.", n=count, path=str(output)))


# --- users --------------------------------------------------------------------------------------

@cli.group()
def users() -> None:
    """Users and invites."""


@users.command("invite")
@click.option("--scope", "scope_key", required=True, help="County, township or village (name or code).")
@click.option("--role", required=True, type=click.Choice(
    ["village_cadre", "village_supervisor", "township_leader", "department_officer", "county_officer", "admin"]))
@click.option("--name", default=None, help="The person's name.")
@click.option("--qr", "qr_path", type=click.Path(path_type=Path), default=None, help="Also write the link as a QR PNG.")
@pass_ctx
def users_invite(ctx: Context, scope_key: str, role: str, name: str | None, qr_path: Path | None) -> None:
    """Create a user and print a one-time invite code and its Telegram deep link."""
    from bot.services.access import AccessDenied
    from bot.services.orgs import OrgError, find_unit
    from bot.services.users import create_invite
    from bot.storage.db import session_scope

    with session_scope(ctx.engine) as session:
        try:
            scope = find_unit(session, scope_key)
            created = create_invite(session, None, scope=scope, role=role, name=name)
        except (OrgError, AccessDenied) as exc:
            ctx.fail(exc.msgid, **exc.params)
            return
    link = created.deep_link(ctx.settings.telegram_bot_username)
    click.echo(ctx.t("Invite code: {code}", code=created.code))
    click.echo(ctx.t("Telegram link: {link}", link=link))
    click.echo(ctx.t("Valid until {when} (UTC), for one use.", when=created.expires_at.strftime("%Y-%m-%d %H:%M")))
    if qr_path:
        from bot.services.qr import write_qr_png

        write_qr_png(link, qr_path)
        click.echo(ctx.t("QR code written to {path}.", path=str(qr_path)))


# --- audit --------------------------------------------------------------------------------------

@cli.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check the hash chain of the whole audit log."""
    from bot.services.audit import verify
    from bot.storage.db import session_scope

    with session_scope(ctx.engine) as session:
        result = verify(session)
    if result.ok:
        click.echo(ctx.t("Audit log intact: {n} entries verified.", n=result.checked))
        return
    click.echo(ctx.t("Audit log broken at entry {id} after {n} good entries: {reason}",
                     id=result.broken_at, n=result.checked, reason=ctx.t(result.reason)), err=True)
    sys.exit(1)


# --- demo and serve -----------------------------------------------------------------------------

@cli.command()
@click.option("--serve/--no-serve", default=False, help="Start the service afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_ctx
def demo(ctx: Context, serve: bool, host: str, port: int) -> None:
    """Migrate and load the fictional demo county (idempotent); optionally serve it."""
    from bot.services.demo import load_demo
    from bot.storage.db import session_scope, upgrade

    upgrade(ctx.settings.effective_database_url)
    with session_scope(ctx.engine) as session:
        summary = load_demo(session, ctx.settings)
    if summary.created:
        click.echo(ctx.t("Demo county {county} loaded: {townships} townships, {villages} villages, {assets} assets.",
                         county=summary.county, townships=summary.townships, villages=summary.villages,
                         assets=summary.assets))
        for line in summary.invites:
            click.echo("  " + line)
    else:
        click.echo(ctx.t("Demo county {county} is already loaded.", county=summary.county))
    _echo_demo_links(ctx)
    if serve:
        _serve(ctx, host, port)


def _echo_demo_links(ctx: Context) -> None:
    """Print fresh single-use web sign-in links (cadre, township, county) and a public page: the demo
    can be tried in a browser without Telegram."""
    from sqlmodel import select

    from bot.services import weblinks
    from bot.storage.db import session_scope
    from bot.storage.models import Asset, User

    settings = ctx.settings
    with session_scope(ctx.engine) as session:
        click.echo(ctx.t("Try it in a browser (each link works once, for 24 hours):"))
        for role in ("village_cadre", "township_leader", "county_officer"):
            user = session.exec(select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)).first()
            if user is not None:
                link = weblinks.create_link(session, user, secret=settings.secret_key, public_url=settings.public_url)
                click.echo(f"  {role:<16} {user.name:<8} {link}")
        asset = session.exec(select(Asset).order_by(Asset.id)).first()
        if asset is not None:
            click.echo(ctx.t("Public page of {asset}: {url}", asset=asset.name,
                             url=f"{settings.public_url}/p/{asset.public_token}"))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web app, the bot (when a token is set) and the scheduler in one process."""
    _serve(ctx, host, port)


def _serve(ctx: Context, host: str, port: int) -> None:
    import uvicorn

    from bot.web.app import create_app

    app = create_app(ctx.settings, engine=ctx.engine)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


def _register_optional() -> None:
    """Add the command groups that live beside their packages."""
    import importlib

    for module, name in (("bot.scoring.cli", "score"), ("bot.policy.cli", "policy"),
                         ("bot.policy.cli", "schedule"), ("bot.web.cli", "qr"), ("bot.oversight_cli", "report"),
                         ("bot.duties_cli", "duty")):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        command = getattr(mod, name, None)
        if command is not None:
            cli.add_command(command, name)


_register_optional()


def main() -> None:
    cli(prog_name="villagebot")


if __name__ == "__main__":
    main()
