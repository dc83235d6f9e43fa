"""The ``villagebot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from bot.config import ConfigError, SecretKeyMissing, Settings, is_loopback, load_settings, resolve_secret_key
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
            from bot.services import audit

            audit.configure_default(self._settings)  # the audit key and checkpoints of this data directory
        return self._settings

    @property
    def engine(self):
        if self._engine is None:
            from bot.storage.db import make_engine

            self._engine = make_engine(self.settings.effective_database_url)
        return self._engine

    def keyed_settings(self, *, generate: bool) -> Settings:
        """Return the settings with their secret key (see ``bot.config.resolve_secret_key``); on a
        public address (``generate`` false) a missing key stops the command with an explanation."""
        try:
            self._settings = resolve_secret_key(self.settings, generate=generate)
        except SecretKeyMissing:
            self.fail(MSG_NO_KEY, path=str(self.settings.secret_key_file))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        return self.settings

    def t(self, msgid: str, **params: object) -> str:
        return translate(self.lang, msgid, **params)

    def fail(self, msgid: str, **params: object) -> NoReturn:
        click.echo(self.t(msgid, **params), err=True)
        sys.exit(2)


pass_ctx = click.make_pass_decorator(Context)

MSG_NO_KEY = N_(
    "Refusing to serve on a public address without a secret key: VILLAGEBOT_SECRET_KEY is not set and there "
    "is no key file {path}. Set VILLAGEBOT_SECRET_KEY to a long random value (for example the output of "
    "`openssl rand -hex 32`; the same for every process sharing the database), or create the key file once "
    "with `villagebot secret init` in a data directory that is kept across restarts.")


@click.group()
@click.option("--lang", default="zh_CN", type=click.Choice(["zh_CN", "en"]), show_default=True,
              help="Language of messages.")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.option("--log-json", is_flag=True, default=None,
              help="Log JSON lines (also VILLAGEBOT_LOG_FORMAT=json).")
@click.pass_context
def cli(click_ctx: click.Context, lang: str, verbose: bool, log_json: bool | None) -> None:
    """VillageBot: follow-up management of poverty-alleviation project assets."""
    from bot import logs

    logs.configure(verbose=verbose, json_lines=log_json or None)
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
@click.option("--year", type=click.IntRange(1949, 2100), default=None,
              help="The ledger of one year (its funds that year, in the imported order); default: all years.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The .xlsx (or .csv) file to write.")
@pass_ctx
def export_ledger_cmd(ctx: Context, county_key: str | None, year: int | None, output: Path) -> None:
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
        count = export_ledger(session, None, output, county=county, year=year)
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
    _print_invite(ctx, created, qr_path)


def _print_invite(ctx: Context, created, qr_path: Path | None) -> None:
    """Print an invite's code, Telegram link and validity; write the link as a QR code when asked."""
    link = created.deep_link(ctx.settings.telegram_bot_username)
    click.echo(ctx.t("Invite code: {code}", code=created.code))
    click.echo(ctx.t("Telegram link: {link}", link=link))
    click.echo(ctx.t("Web link (any browser or WeChat): {link}", link=created.web_link(ctx.settings.public_url)))
    click.echo(ctx.t("Valid until {when} (UTC), for one use.", when=created.expires_at.strftime("%Y-%m-%d %H:%M")))
    if qr_path:
        from bot.services.qr import write_qr_png

        write_qr_png(link, qr_path)
        click.echo(ctx.t("QR code written to {path}.", path=str(qr_path)))


@users.command("deactivate")
@click.argument("user_id", type=click.IntRange(1, 2_147_483_647))
@pass_ctx
def users_deactivate(ctx: Context, user_id: int) -> None:
    """Deactivate a user: every web sign-in of theirs ends at once and an unused invite stops working."""
    from bot.services.users import deactivate
    from bot.storage.db import session_scope
    from bot.storage.models import User

    with session_scope(ctx.engine) as session:
        user = session.get(User, user_id)
        if user is None:
            ctx.fail(N_("There is no user {id}."), id=user_id)
            return
        ended = deactivate(session, None, user)
        name = user.name
    click.echo(ctx.t("{name} is deactivated; {n} web sign-in(s) ended.", name=name, n=ended))


@users.command("pending")
@click.option("--scope", "scope_key", default=None, help="Only this county, township or village (name or code).")
@pass_ctx
def users_pending(ctx: Context, scope_key: str | None) -> None:
    """List the people invited who have not joined yet (they receive no reminder)."""
    from sqlmodel import Session

    from bot.services.orgs import OrgError, find_unit
    from bot.services.reach import ROLE_LABELS, not_joined
    from bot.storage.models import User

    with Session(ctx.engine) as session:
        try:
            scope = find_unit(session, scope_key) if scope_key else None
        except OrgError as exc:
            ctx.fail(exc.msgid, **exc.params)
            return
        # The command line acts as an installation-wide administrator, optionally narrowed to a unit.
        viewer = User(id=0, name="cli", role="admin", org_unit_id=scope.id if scope else None, active=True)
        waiting = not_joined(session, viewer)
    for w in waiting:
        until = w.invite_valid_until.strftime("%Y-%m-%d") if w.invite_valid_until else ctx.t("expired")
        click.echo(f"{w.user.id:>6}  {w.unit.name:<12} {w.user.name:<16} {ctx.t(ROLE_LABELS[w.user.role])}  "
                   + ctx.t("invite valid until {when}", when=until))
    click.echo(ctx.t("{n} person(s) have not joined.", n=len(waiting)))


@users.command("reinvite")
@click.argument("user_id", type=int)
@click.option("--qr", "qr_path", type=click.Path(path_type=Path), default=None, help="Also write the link as a QR PNG.")
@pass_ctx
def users_reinvite(ctx: Context, user_id: int, qr_path: Path | None) -> None:
    """Give a person who has not joined a new invite; their earlier code stops working."""
    from bot.services.access import AccessDenied
    from bot.services.reach import ReachError, reissue
    from bot.storage.db import session_scope

    try:
        with session_scope(ctx.engine) as session:
            created = reissue(session, None, user_id)
            name = created.user.name
    except (AccessDenied, ReachError) as exc:
        ctx.fail(exc.msgid, **exc.params)
        return
    click.echo(ctx.t("New invite for {name}.", name=name))
    _print_invite(ctx, created, qr_path)


# --- audit --------------------------------------------------------------------------------------

@cli.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@click.option("--checkpoints", "extra", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Also compare with the checkpoints in this file (a copy of the checkpoint file, or a log).")
@click.option("--count", type=int, default=None, help="With --code: the number of entries a report printed.")
@click.option("--code", default=None, help="With --count: the check code a report (the half-year PDF) printed.")
@pass_ctx
def audit_verify(ctx: Context, extra: tuple[Path, ...], count: int | None, code: str | None) -> None:
    """Check every entry's signature and link, and the chain against the checkpoints."""
    from bot.services import audit
    from bot.storage.db import session_scope

    if (count is None) != (code is None):
        ctx.fail(N_("Give --count and --code together (both are printed in the report)."))
    try:
        with session_scope(ctx.engine) as session:
            result = audit.verify(session, checkpoints=[audit.current().checkpoint_file, *extra],
                                  expect=(count, code) if count is not None and code is not None else None)
    except audit.AuditKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if result.ok:
        click.echo(ctx.t("Audit log intact: {n} entries verified.", n=result.checked))
        _echo_audit_state(ctx, result)
        return
    if result.broken_at is not None:
        click.echo(ctx.t("Audit log broken at entry {id} after {n} good entries: {reason}",
                         id=result.broken_at, n=result.good_before, reason=ctx.t(result.reason or "")), err=True)
    else:
        click.echo(ctx.t(N_("Audit log not intact ({n} entries in the log):"), n=result.checked), err=True)
    _echo_findings(ctx, result)
    _echo_audit_state(ctx, result)
    sys.exit(1)


# --- secret key ---------------------------------------------------------------------------------

@cli.group("secret")
def secret_group() -> None:
    """The secret key that signs sign-in links, device cookies and form tokens."""


@secret_group.command("init")
@pass_ctx
def secret_init(ctx: Context) -> None:
    """Create the key file in the data directory (mode 0600) unless it exists; VILLAGEBOT_SECRET_KEY wins."""
    path = ctx.settings.secret_key_file
    if ctx.settings.secret_key:
        click.echo(ctx.t("VILLAGEBOT_SECRET_KEY is set; it is used and no key file is needed."))
        return
    existed = path.exists()
    ctx.keyed_settings(generate=True)
    key = N_("The key file {path} already exists; it is kept.") if existed else N_(
        "Created the key file {path} (readable only by this user). Keep it with the data directory.")
    click.echo(ctx.t(key, path=str(path)))


def _echo_findings(ctx: Context, result) -> None:
    click.echo(ctx.t(N_("Found:")), err=True)
    for finding in result.findings:
        message = ctx.t(finding.msgid, **finding.params)
        if finding.entry_id is None:
            click.echo(f"  - {message}", err=True)
        else:
            click.echo("  - " + ctx.t(N_("entry {id}: {message}"), id=finding.entry_id, message=message), err=True)
    if result.more:
        click.echo("  - " + ctx.t(N_("and {n} more problems of the same kinds."), n=result.more), err=True)


def _echo_audit_state(ctx: Context, result) -> None:
    if result.legacy:
        click.echo(ctx.t(N_("{n} of them are unkeyed legacy entries, written before the audit key existed: they "
                            "are checked with the old plain hash, and the first keyed entry after them seals "
                            "them."), n=result.legacy))
    latest = result.last_checkpoint
    if latest is None:
        click.echo(ctx.t(N_("No checkpoint yet: entries removed from the end could not be noticed. Run "
                            "'villagebot audit checkpoint' (the service takes one every hour).")))
    else:
        click.echo(ctx.t(N_("Last checkpoint: {when} (UTC), {count} entries, check code {code}."),
                         when=latest.when, count=latest.count, code=latest.code))


@audit_group.command("checkpoint")
@pass_ctx
def audit_checkpoint(ctx: Context) -> None:
    """Verify the chain and append a signed checkpoint (count and last entry) to the checkpoint file."""
    from bot.services import audit
    from bot.storage.db import session_scope

    try:
        with session_scope(ctx.engine) as session:
            taken = audit.checkpoint(session)
    except audit.AuditKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if taken.checkpoint is None:
        click.echo(ctx.t(N_("No checkpoint taken: the audit log does not verify.")), err=True)
        _echo_findings(ctx, taken.verified)
        sys.exit(1)
    cp = taken.checkpoint
    path = str(audit.current().checkpoint_file)
    if taken.written:
        click.echo(ctx.t(N_("Checkpoint written to {path}: {count} entries, check code {code}."),
                         path=path, count=cp.count, code=cp.code))
    else:
        click.echo(ctx.t(N_("The audit log has not changed since the last checkpoint in {path}: {count} entries, "
                            "check code {code}."), path=path, count=cp.count, code=cp.code))


# --- demo and serve -----------------------------------------------------------------------------

@cli.command()
@click.option("--serve/--no-serve", default=False, help="Start the service afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where the service will listen; the printed links use it (and --port) unless VILLAGEBOT_PUBLIC_URL is set.")
@click.option("--port", default=8000, show_default=True, type=int)
@pass_ctx
def demo(ctx: Context, serve: bool, host: str, port: int) -> None:
    """Migrate and load the fictional demo county (idempotent); print a web sign-in link for every role; optionally serve."""
    from bot.services.demo import base_url, load_demo
    from bot.storage.db import session_scope, upgrade

    ctx.keyed_settings(generate=not serve or is_loopback(host))
    base = base_url(ctx.settings, host, port)
    upgrade(ctx.settings.effective_database_url)
    with session_scope(ctx.engine) as session:
        summary = load_demo(session, ctx.settings, base)
    if summary.created:
        click.echo(ctx.t("Demo county {county} loaded: {townships} townships, {villages} villages, {assets} assets.",
                         county=summary.county, townships=summary.townships, villages=summary.villages,
                         assets=summary.assets))
        for line in summary.invites:
            click.echo("  " + line)
    else:
        click.echo(ctx.t("Demo county {county} is already loaded.", county=summary.county))
    _echo_demo_links(ctx, base)
    if serve:
        _serve(ctx, host, port)


def _echo_demo_links(ctx: Context, base: str) -> None:
    """Print fresh single-use web sign-in links, one for every role, and a public page: the demo can be
    tried in a browser without Telegram."""
    from sqlmodel import col, select

    from bot.services.demo import sign_in_lines
    from bot.storage.db import session_scope
    from bot.storage.models import Asset

    with session_scope(ctx.engine) as session:
        lines = sign_in_lines(session, ctx.settings, base, ctx.lang)
        if not lines:
            return
        click.echo(ctx.t("Try it in a browser (each link works once, for 24 hours):"))
        for line in lines:
            click.echo("  " + line)
        asset = session.exec(select(Asset).order_by(col(Asset.id))).first()
        if asset is not None:
            click.echo(ctx.t("Public page of {asset}: {url}", asset=asset.name,
                             url=f"{base}/p/{asset.public_token}"))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Run the web app, the bot (when a token is set) and the scheduler in one process."""
    _serve(ctx, host, port)


def _serve(ctx: Context, host: str, port: int) -> None:
    """Serve; on 127.0.0.1 a missing key is made in the data directory, on a public address it must exist."""
    import uvicorn

    from bot.services.demo import base_url
    from bot.web.app import create_app

    settings = ctx.keyed_settings(generate=is_loopback(host))
    # Links the service makes (invites, sign-in links) point at the port it serves on, unless
    # VILLAGEBOT_PUBLIC_URL says otherwise.
    settings = settings.model_copy(update={"public_url": base_url(settings, host, port)})
    app = create_app(settings, engine=ctx.engine)
    # The app reads X-Forwarded-For itself, and only from VILLAGEBOT_TRUSTED_PROXIES (bot/web/public.py):
    # uvicorn's own handling would believe any local peer's header.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, log_config=None)


def _register_optional() -> None:
    """Add the command groups that live beside their packages."""
    import importlib

    for module, name in (("bot.scoring_cli", "score"), ("bot.policy_cli", "policy"),
                         ("bot.policy_cli", "schedule"), ("bot.web.cli", "qr"), ("bot.oversight_cli", "report"),
                         ("bot.duties_cli", "duty"), ("bot.ops_cli", "backup"), ("bot.ops_cli", "restore"),
                         ("bot.ops_cli", "storage"), ("bot.wecom_cli", "wecom"),
                         ("bot.departments_cli", "department")):
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
