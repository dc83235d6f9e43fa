"""The ``villagebot`` command line end to end, with a temporary data directory, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import text

from bot.cli import cli
from bot.storage.db import make_engine


class Cli:
    """Runs ``villagebot`` with VILLAGEBOT_DATA_DIR pointing at a temporary directory.

    Without a database URL it uses the default SQLite file under the data directory.
    """

    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.url = database_url or f"sqlite:///{data_dir / 'villagebot.sqlite3'}"
        self.env = {"VILLAGEBOT_DATA_DIR": str(data_dir), "VILLAGEBOT_DATABASE_URL": database_url,
                    "VILLAGEBOT_TELEGRAM_BOT_USERNAME": "TaoyuanAssetBot"}

    def __call__(self, *args: str, lang: str | None = None):
        argv = (["--lang", lang] if lang else []) + list(args)
        return CliRunner().invoke(cli, argv, env=self.env)

    def scalar(self, sql: str):
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def execute(self, sql: str) -> None:
        engine = make_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()


@pytest.fixture
def run(tmp_path, db_url) -> Cli:
    """A CLI on an already migrated, empty database: SQLite, then PostgreSQL."""
    return Cli(tmp_path / "data", db_url)


@pytest.fixture
def loaded(run, samples) -> Cli:
    """The CLI with the sample county tree and its 25 assets imported."""
    assert run("import", "org", str(samples / "org-sample.xlsx")).exit_code == 0
    result = run("import", "assets", str(samples / "ledger-sample.xlsx"))
    assert result.exit_code == 0, result.output
    return run


def test_db_upgrade_creates_the_database_in_the_data_dir(tmp_path):
    run = Cli(tmp_path / "fresh")
    result = run("db", "upgrade", lang="en")
    assert result.exit_code == 0, result.output
    assert "Database is up to date." in result.output
    assert run.scalar("SELECT version_num FROM alembic_version")
    assert run("db", "upgrade").exit_code == 0  # idempotent


def test_import_org_dry_run_writes_nothing_then_import_creates_the_tree(run, samples):
    dry = run("import", "org", str(samples / "org-sample.xlsx"), "--dry-run", lang="en")
    assert dry.exit_code == 0, dry.output
    assert "Checked 9 rows; 13 units would be created." in dry.output
    assert run.scalar("SELECT count(*) FROM org_unit") == 0
    real = run("import", "org", str(samples / "org-sample.xlsx"), lang="en")
    assert "Imported 9 rows; 13 units created." in real.output
    assert run.scalar("SELECT count(*) FROM org_unit WHERE level = 'village'") == 9
    assert run.scalar("SELECT code FROM org_unit WHERE name = '竹园村'") == "430525102000"


def test_import_assets_dry_run_writes_nothing(run, samples):
    run("import", "org", str(samples / "org-sample.xlsx"))
    result = run("import", "assets", str(samples / "ledger-sample.xlsx"), "--dry-run", lang="en")
    assert result.exit_code == 0, result.output
    assert "Checked 25 rows: 25 new, 0 changed, 0 unchanged. Nothing written (dry run)." in result.output
    assert run.scalar("SELECT count(*) FROM asset") == 0


def test_import_assets_writes_every_row(loaded):
    assert loaded.scalar("SELECT count(*) FROM asset") == 25


def test_a_broken_ledger_lists_every_row_and_column_and_writes_nothing(run, samples):
    run("import", "org", str(samples / "org-sample.xlsx"))
    result = run("import", "assets", str(samples / "ledger-sample-broken.xlsx"), lang="en")
    assert result.exit_code == 2
    assert "4 problem(s) found; nothing was written:" in result.output
    for row, column in ((7, "中央"), (14, "合计"), (20, "村"), (27, "项目编号")):
        assert f"row {row}, column {column}:" in result.output
    assert run.scalar("SELECT count(*) FROM asset") == 0


def test_a_file_that_is_not_a_spreadsheet_is_refused(run, tmp_path):
    junk = tmp_path / "photo.xlsx"
    junk.write_bytes(bytes(range(256)) * 8)
    result = run("import", "assets", str(junk), lang="en")
    assert result.exit_code == 2
    assert "photo.xlsx is not a spreadsheet" in result.output


def test_an_exported_ledger_reimports_unchanged(loaded, tmp_path):
    out = tmp_path / "ledger.xlsx"
    result = loaded("export", "ledger", "--county", "桃源县", "-o", str(out), lang="en")
    assert result.exit_code == 0, result.output
    assert f"Wrote 25 assets to {out}." in result.output
    again = loaded("import", "assets", str(out), lang="en")
    assert again.exit_code == 0, again.output
    assert "Imported 25 rows: 0 new, 0 changed, 25 unchanged." in again.output


def test_export_for_an_unknown_county_is_an_error(loaded, tmp_path):
    result = loaded("export", "ledger", "--county", "无此县", "-o", str(tmp_path / "x.xlsx"), lang="en")
    assert result.exit_code == 2
    assert "No county, township or village is called 无此县." in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_invite_prints_the_code_and_deep_link_and_writes_a_qr_that_decodes_to_it(loaded, tmp_path):
    png = tmp_path / "invite.png"
    result = loaded("users", "invite", "--scope", "新桥村", "--role", "village_cadre", "--name", "李书记",
                    "--qr", str(png), lang="en")
    assert result.exit_code == 0, result.output
    code = result.output.split("Invite code: ", 1)[1].split()[0]
    link = f"https://t.me/TaoyuanAssetBot?start={code}"
    assert f"Telegram link: {link}" in result.output
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert [d.text for d in decoded] == [link]
    assert loaded.scalar("SELECT role FROM app_user WHERE name = '李书记'") == "village_cadre"
    assert loaded.scalar("SELECT count(*) FROM invite") == 1


def test_invite_by_division_code(loaded):
    result = loaded("users", "invite", "--scope", "430525103000", "--role", "village_supervisor", lang="en")
    assert result.exit_code == 0, result.output
    assert loaded.scalar("SELECT o.name FROM app_user u JOIN org_unit o ON o.id = u.org_unit_id") == "王庄村"


@pytest.mark.parametrize("scope,role,message", [
    ("无此村", "village_cadre", "No county, township or village is called 无此村."),
    ("新桥镇", "village_cadre", "The role village_cadre is scoped to a village, not a township."),
    ("新桥村", "township_leader", "The role township_leader is scoped to a township, not a village."),
    ("桃源县", "village_supervisor", "The role village_supervisor is scoped to a village, not a county."),
])
def test_invite_with_a_bad_scope_or_role_level_is_a_clear_error(loaded, scope, role, message):
    result = loaded("users", "invite", "--scope", scope, "--role", role, lang="en")
    assert result.exit_code == 2
    assert message in result.output
    assert loaded.scalar("SELECT count(*) FROM app_user") == 0


def test_invite_with_an_unknown_role_is_refused(loaded):
    result = loaded("users", "invite", "--scope", "新桥村", "--role", "mayor")
    assert result.exit_code == 2
    assert "mayor" in result.output and "village_cadre" in result.output


def test_audit_verify_passes_then_detects_a_tampered_entry(loaded):
    ok = loaded("audit", "verify", lang="en")
    assert ok.exit_code == 0, ok.output
    total = loaded.scalar("SELECT count(*) FROM audit_log")
    assert f"Audit log intact: {total} entries verified." in ok.output
    victim = loaded.scalar("SELECT min(id) FROM audit_log WHERE action = 'asset.create'")
    loaded.execute(f"UPDATE audit_log SET actor = 'someone else' WHERE id = {victim}")
    broken = loaded("audit", "verify", lang="en")
    assert broken.exit_code == 1
    assert f"Audit log broken at entry {victim} after {victim - 1} good entries" in broken.output
    assert "the entry was edited" in broken.output


def test_audit_verify_detects_a_deleted_entry(loaded):
    victim = loaded.scalar("SELECT max(id) FROM audit_log") - 3
    loaded.execute(f"DELETE FROM audit_log WHERE id = {victim}")
    broken = loaded("audit", "verify")
    assert broken.exit_code == 1
    assert f"审计日志在第 {victim + 1} 号记录处断裂" in broken.output
    assert "有记录被删除" in broken.output


def test_chinese_is_the_default_and_english_is_chosen_with_lang(run, samples):
    chinese = run("import", "org", str(samples / "org-sample.xlsx"), "--dry-run")
    english = run("import", "org", str(samples / "org-sample.xlsx"), "--dry-run", lang="en")
    assert chinese.output.strip() == "已检查 9 行，将新建 13 个行政单位。"
    assert english.output.strip() == "Checked 9 rows; 13 units would be created."


def test_a_broken_ledger_is_explained_in_chinese_by_default(run, samples):
    run("import", "org", str(samples / "org-sample.xlsx"))
    result = run("import", "assets", str(samples / "ledger-sample-broken.xlsx"))
    assert "发现 4 处问题，未写入任何数据：" in result.output
    assert "第7行, “中央”列: “五十”不是数字" in result.output
    assert "项目编号 TY-2022-0002 重复（第6行也使用了）。" in result.output
