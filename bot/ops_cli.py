"""Operations commands: ``backup``, ``restore`` and ``storage`` (check the file store, move it).

See docs/operations.md for how they fit a deployment of several hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.i18n import N_

if TYPE_CHECKING:
    from bot.cli import Context


def _store(ctx: Context, url: str | None = None):
    from bot.services.blobs import open_store

    return open_store(url if url is not None else ctx.settings.storage_url, ctx.settings.evidence_dir)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--with-keys", is_flag=True, help="Also put the audit and secret keys in the archive "
                                                "(by default they stay apart from the data).")
@click.pass_obj
def backup(ctx: Context, target: Path, with_keys: bool) -> None:
    """Write the database and the photos to TARGET (.tar.gz), consistent while the service runs."""
    from bot.services import audit
    from bot.services import backup as backups
    from bot.services.audit import key_file_path

    settings = ctx.settings
    keys = {"audit.key": key_file_path(settings), "secret_key": settings.secret_key_file} if with_keys else None
    summary = backups.backup(ctx.engine, _store(ctx), target, checkpoints=audit.current().checkpoint_file,
                             keys=keys)
    click.echo(ctx.t(N_("Backed up {rows} rows of {tables} tables and {files} files ({mb} MB) to {file}."),
                     rows=sum(summary.rows.values()), tables=len(summary.rows), files=summary.files,
                     mb=f"{summary.bytes / 1e6:.1f}", file=str(target)))


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def restore(ctx: Context, source: Path) -> None:
    """Restore SOURCE into an empty database and the configured file store; then run `audit verify`."""
    from bot.services import backup as backups

    try:
        summary = backups.restore(ctx.engine, _store(ctx), source, data_dir=ctx.settings.data_dir)
    except backups.BackupError as exc:
        ctx.fail(exc.msgid, **exc.params)
    click.echo(ctx.t(N_("Restored {rows} rows and {files} files. Check the audit log with "
                        "`villagebot audit verify`."), rows=sum(summary.rows.values()), files=summary.files))


@click.group("storage")
def storage() -> None:
    """The file store of photos and attachments (VILLAGEBOT_STORAGE_URL)."""


@storage.command("check")
@click.pass_obj
def storage_check(ctx: Context) -> None:
    """Say which store is configured and whether it can be used now."""
    from bot.services.blobs import StoreError

    store = _store(ctx)
    try:
        store.check()
    except StoreError as exc:
        ctx.fail(exc.msgid, **exc.params)
    click.echo(ctx.t(N_("The file store {url} is ready."), url=store.url))


@storage.command("migrate")
@click.option("--to", "target_url", required=True, help="The store to move into (s3://KEY:SECRET@host/bucket).")
@click.option("--from", "source_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The directory to move from (default: the data directory's evidence).")
@click.pass_obj
def storage_migrate(ctx: Context, target_url: str, source_dir: Path | None) -> None:
    """Copy every file of a local data directory into another store and check every file's hash."""
    from bot.services.blobs import LocalStore, StoreError, copy_all, open_store

    source = LocalStore(source_dir or ctx.settings.evidence_dir)
    try:
        target = open_store(target_url, ctx.settings.evidence_dir)
        target.check()
    except StoreError as exc:
        ctx.fail(exc.msgid, **exc.params)
    result = copy_all(source, target)
    click.echo(ctx.t(N_("Copied {copied} files, {present} already there, {mb} MB in all."),
                     copied=result.copied, present=result.present, mb=f"{result.bytes / 1e6:.1f}"))
    if result.mismatched:
        ctx.fail(N_("{n} files differ after copying (first: {key}); nothing was deleted."),
                 n=len(result.mismatched), key=result.mismatched[0])
    click.echo(ctx.t(N_("Every file's hash matches. Set VILLAGEBOT_STORAGE_URL to the new store and restart.")))
