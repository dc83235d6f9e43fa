"""The file store behind one interface: local disk and a real S3-compatible server behave the same; a photo
uploaded through one app instance is served by another that shares only the database and the store; the
migration command moves a data directory and checks every hash."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.cli import cli
from bot.config import Settings
from bot.services.blobs import LocalStore, S3Store, StoreError, open_store
from bot.services.evidence import EvidenceStore
from bot.web.app import create_app
from tests.services.images import make_jpeg
from tests.web.conftest import populate


@pytest.fixture(params=["local", "s3"])
def blobs(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "files")
    return open_store(request.getfixturevalue("s3_url"), tmp_path)


def test_both_stores_keep_read_list_and_delete_files_alike(blobs):
    blobs.check()
    assert blobs.get("originals/ab/abc") is None and not blobs.exists("originals/ab/abc")
    blobs.put("originals/ab/abc", b"first", private=True)
    blobs.put("originals/ab/abc", b"second")  # content addressed: written once, never replaced
    blobs.put("thumbs/x.jpg", b"\xff\xd8thumb")
    assert blobs.get("originals/ab/abc") == b"first" and blobs.exists("thumbs/x.jpg")
    assert sorted(blobs.keys()) == ["originals/ab/abc", "thumbs/x.jpg"]
    assert list(blobs.keys("thumbs/")) == ["thumbs/x.jpg"]
    blobs.delete("thumbs/x.jpg")
    blobs.delete("thumbs/x.jpg")  # absent: nothing happens
    assert list(blobs.keys()) == ["originals/ab/abc"]
    with pytest.raises(ValueError):
        blobs.put("../escape", b"x")


def test_evidence_lives_in_the_object_store(s3_url, tmp_path):
    store = EvidenceStore(None, 5 * 1024 * 1024, blobs=open_store(s3_url, tmp_path))
    data = make_jpeg(800, 600, seed=4)
    photo = store.ingest(data)
    assert isinstance(store.blobs, S3Store)
    assert store.original(photo.sha256) == data
    assert store.display(photo.sha256)[:2] == store.thumb(photo.sha256)[:2] == b"\xff\xd8"
    assert not any(tmp_path.rglob("*.jpg"))  # nothing on local disk
    store.forget(photo.sha256)
    assert store.display(photo.sha256) is None and list(store.blobs.keys()) == []


def test_a_bad_or_unreachable_store_is_refused_in_words(tmp_path):
    with pytest.raises(StoreError):
        open_store("ftp://example.org/x", tmp_path)
    store = open_store("s3://k:s@127.0.0.1:9/bucket?secure=0", tmp_path)  # nothing listens on port 9
    with pytest.raises(StoreError) as caught:
        store.check()
    assert "k:s@" not in store.url and "***" in store.url  # the secret never appears in messages
    assert ":s@" not in str(caught.value.params) and caught.value.msgid


def test_a_photo_uploaded_through_one_host_is_served_by_another(engine, s3_url, tmp_path):
    def host(name: str) -> TestClient:
        settings = Settings(data_dir=tmp_path / name, telegram_token="", public_url="http://testserver",
                            secret_key="test-secret-key-0123456789", storage_url=s3_url)
        return TestClient(create_app(settings, engine=engine))

    first, second = host("host-a"), host("host-b")
    with first, second:
        with Session(engine, expire_on_commit=False) as session:
            world = populate(session, first.app.state.web.store)
        response = second.get(f"/p/{world.asset.public_token}/photo/{world.board_sha}.jpg")
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert response.content == first.app.state.web.store.display(world.board_sha)
        assert not (tmp_path / "host-b" / "evidence").exists()  # host B has no local copy at all
        assert second.get(f"/p/{world.asset.public_token}/photo/{world.hidden_sha}.jpg").status_code == 404


def test_the_migration_command_moves_a_data_directory_and_checks_hashes(s3_url, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    local = EvidenceStore(data_dir / "evidence", 5 * 1024 * 1024)
    photos = [local.ingest(make_jpeg(320, 240, seed=seed)) for seed in range(5)]
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("VILLAGEBOT_SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.delenv("VILLAGEBOT_STORAGE_URL", raising=False)
    from bot.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["storage", "migrate", "--to", s3_url])
    assert result.exit_code == 0, result.output
    assert "15" in result.output  # three copies of five photos
    target = open_store(s3_url, tmp_path)
    source = LocalStore(data_dir / "evidence")
    assert sorted(target.keys()) == sorted(source.keys())
    for key in source.keys():
        assert hashlib.sha256(target.get(key)).digest() == hashlib.sha256(source.get(key)).digest()
    for photo in photos:
        assert hashlib.sha256(target.get(EvidenceStore.original_key(photo.sha256))).hexdigest() == photo.sha256
    again = CliRunner().invoke(cli, ["storage", "migrate", "--to", s3_url])
    assert again.exit_code == 0 and "15" in again.output  # already there: nothing copied twice
