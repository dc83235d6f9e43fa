"""Photo evidence: real pictures in, refusals with clear messages, private originals, doubtful-photo flags."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from bot.i18n import SOURCE_DIR, extract_messages, missing_translations, translate
from bot.services import evidence
from bot.services.evidence import MB, EvidenceError, EvidenceStore, flag_label, hamming, record_use
from bot.storage.models import Photo, PhotoUse, Report
from tests.factories import make_asset, make_tree
from tests.services import images

ROOT = Path(__file__).resolve().parents[2]
MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def store(tmp_path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence", max_bytes=5 * MB)


def stored_files(store: EvidenceStore) -> list[Path]:
    root = store.blobs.root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def local(store: EvidenceStore, key: str) -> Path:
    """Where the local store keeps a key."""
    return store.blobs.path(key)


def refusal(store: EvidenceStore, data: bytes) -> EvidenceError:
    with pytest.raises(EvidenceError) as caught:
        store.ingest(data)
    assert stored_files(store) == []  # a refused upload leaves nothing behind
    return caught.value


# --- type, size, damage -------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "mime"), [
    (images.make_jpeg(), "image/jpeg"),
    (images.make_png(), "image/png"),  # however it was named (board.jpg), it is stored as a PNG
    (images.make_png(alpha=True), "image/png"),
    (images.make_webp(), "image/webp"),
])
def test_it_takes_the_type_from_the_content(store, data, mime):
    photo = store.ingest(data)
    assert photo.mime == mime
    assert (photo.width, photo.height) == Image.open(io.BytesIO(data)).size
    assert Image.open(local(store, photo.display_key)).format == "JPEG"


@pytest.mark.parametrize("data", [
    images.make_pdf(),  # a PDF named board.jpg
    images.encode(images.photo_like(40, 30), "GIF"),
    images.encode(images.photo_like(40, 30), "BMP"),
    "村集体经济收入公示".encode(),
    b"",
], ids=["pdf", "gif", "bmp", "text", "empty"])
def test_it_refuses_what_is_not_a_photo(store, data):
    error = refusal(store, data)
    assert error.code == "not_photo"
    assert "JPEG, PNG or WebP" in error.message("en")
    assert "JPEG、PNG 或 WebP" in error.message("zh_CN")


@pytest.mark.skipif(evidence.heif_supported(), reason="pillow-heif is installed: HEIC photos are read")
def test_it_explains_how_to_send_an_iphone_heic_photo(store):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    error = refusal(store, heic)
    assert error.code == "heif_unsupported"
    assert "HEIC" in error.message("en") and "兼容性最佳" in error.message("zh_CN")


def test_it_refuses_a_file_over_the_size_limit_before_reading_it(store):
    error = refusal(store, images.padded(images.make_jpeg(), 5 * MB + 1))
    assert error.code == "too_large"
    assert error.message("en") == ("The photo is too large (5 MB). The limit is 5 MB. "
                                   "Please send a smaller photo.")
    with pytest.raises(EvidenceError) as sixty:
        store.check_size(60 * MB)  # what a transport asks before downloading a 60 MB file
    assert sixty.value.message("zh_CN") == "照片太大（60 MB），上限为 5 MB。请发送小一些的照片。"
    assert store.ingest(images.padded(images.make_jpeg(), 5 * MB)).size_bytes == 5 * MB


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.7, 0.97])
def test_it_refuses_a_truncated_jpeg(store, keep):
    whole = images.make_jpeg(1200, 900, noise=0.2)
    error = refusal(store, images.truncated(whole, keep))
    assert error.code == "corrupt"
    assert error.message("zh_CN") == "这张照片已损坏或不完整，无法打开。请重新拍照后再发送。"


def test_it_refuses_damaged_pngs_and_jpegs(store):
    png = bytearray(images.make_png())
    png[60] ^= 0xFF  # inside the first IDAT chunk's compressed pixels
    jpeg = bytearray(images.make_jpeg())
    jpeg[2:4] = b"\xff\xc0"  # JPEG magic, then a frame header with nonsense where APP0 should be
    assert refusal(store, bytes(png)).code == "corrupt"
    assert refusal(store, bytes(jpeg)).code == "corrupt"
    assert refusal(store, images.truncated(images.make_png(), 0.5)).code == "corrupt"
    assert refusal(store, images.truncated(images.make_webp(), 0.5)).code == "corrupt"


def test_it_accepts_a_phone_jpeg_that_pillow_reads_as_mpo(store):
    out = io.BytesIO()
    images.photo_like(400, 300).save(out, "MPO", save_all=True, append_images=[images.photo_like(400, 300, seed=3)],
                                     exif=images.make_exif(orientation=6).tobytes())
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    photo = store.ingest(out.getvalue())
    assert (photo.mime, photo.width, photo.height) == ("image/jpeg", 300, 400)


def test_it_refuses_a_decompression_bomb_without_decoding_it(store):
    bomb = images.make_bomb_png(20000, 20000)
    assert len(bomb) < 200_000  # 400 megapixels in a small file
    error = refusal(store, bomb)
    assert error.code == "too_many_pixels"
    assert error.message("en") == ("The picture is too large to process (more than 50 megapixels). "
                                   "Please send an ordinary camera photo.")
    assert "50 百万像素" in error.message("zh_CN")


def test_a_decompression_bomb_costs_almost_no_memory(tmp_path):
    """In a fresh process, refusing the bomb raises the peak RSS by little (decoding needs ≥ 400 MB).

    The peak (VmHWM) is reset through /proc/self/clear_refs just before, so it measures this call
    only, C buffers included (tracemalloc does not see Pillow's).
    """
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from bot.services.evidence import EvidenceError, EvidenceStore, MB
        from tests.services.images import make_bomb_png

        def status_kb(field):
            line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
            return int(line.split()[1])

        bomb = make_bomb_png(20000, 20000)
        store = EvidenceStore(Path({str(tmp_path)!r}), 100 * MB)
        Path("/proc/self/clear_refs").write_text("5")
        before = status_kb("VmRSS:")
        try:
            store.ingest(bomb)
            code = None
        except EvidenceError as exc:
            code = exc.code
        print(json.dumps({{"code": code, "grown_kb": status_kb("VmHWM:") - before}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["code"] == "too_many_pixels"
    assert result["grown_kb"] < 16 * 1024


def test_a_smaller_pixel_limit_is_honoured(tmp_path):
    store = EvidenceStore(tmp_path, 5 * MB, max_pixels=2_000_000)
    error = refusal(store, images.make_jpeg(2000, 1200))
    assert (error.code, error.params["limit"]) == ("too_many_pixels", 2)
    assert store.ingest(images.make_jpeg(1600, 1200)).width == 1600


# --- what is stored -----------------------------------------------------------------------------

def test_it_keeps_the_original_byte_for_byte_with_its_exif(store):
    data = images.make_jpeg(taken_at=dt.datetime(2026, 3, 5, 9, 30), exif_gps=(31.4, 117.2))
    photo = store.ingest(data)
    sha = hashlib.sha256(data).hexdigest()
    assert photo.sha256 == sha
    original = local(store, photo.original_key)
    assert original == store.blobs.root / "originals" / sha[:2] / sha
    assert original.read_bytes() == data == store.original(sha)
    assert original.stat().st_mode & 0o777 == 0o600
    exif = Image.open(original).getexif()
    assert exif[0x010F] == "TestCam" and exif.get_ifd(0x8825)
    # The same bytes again: same description, nothing rewritten.
    mtimes = [p.stat().st_mtime_ns for p in stored_files(store)]
    assert store.ingest(data) == photo
    assert [p.stat().st_mtime_ns for p in stored_files(store)] == mtimes
    assert len(stored_files(store)) == 3


def test_the_display_copy_and_thumbnail_carry_no_exif(store):
    data = images.make_jpeg(3000, 2000, taken_at=dt.datetime(2026, 3, 5, 9, 30), exif_gps=(31.4, 117.2),
                            orientation=1)
    photo = store.ingest(data)
    for key, longest in ((photo.display_key, evidence.DISPLAY_PX), (photo.thumb_key, evidence.THUMB_PX)):
        path = local(store, key)
        raw = path.read_bytes()
        with Image.open(path) as copy:
            assert copy.format == "JPEG" and max(copy.size) == longest
            assert not copy.getexif()
            assert "exif" not in copy.info
        assert b"Exif\x00\x00" not in raw and b"TestCam" not in raw
    assert (photo.taken_at, photo.gps_lat) != (None, None)  # read before stripping


def half_and_half(orientation: int) -> bytes:
    """A 400×200 picture, left half red and right half blue, with an EXIF orientation."""
    image = Image.new("RGB", (400, 200), (220, 20, 20))
    image.paste((20, 20, 220), (200, 0, 400, 200))
    return images.encode(image, "JPEG", exif=images.make_exif(orientation=orientation))


RED, BLUE = "red", "blue"


@pytest.mark.parametrize(("orientation", "size", "first", "probe"), [
    (1, (400, 200), RED, lambda w, h: (w // 4, h // 2)),     # left of an upright picture
    (3, (400, 200), BLUE, lambda w, h: (w // 4, h // 2)),    # turned 180°: left shows the right half
    (6, (200, 400), RED, lambda w, h: (w // 2, h // 4)),     # turned 90° clockwise: the left half on top
    (8, (200, 400), BLUE, lambda w, h: (w // 2, h // 4)),    # turned 90° anticlockwise: right half on top
    (2, (400, 200), BLUE, lambda w, h: (w // 4, h // 2)),    # mirrored
])
def test_it_applies_the_exif_orientation_to_the_copies(store, orientation, size, first, probe):
    photo = store.ingest(half_and_half(orientation))
    assert (photo.width, photo.height) == size
    for key in (photo.display_key, photo.thumb_key):
        with Image.open(local(store, key)) as copy:
            red, _green, blue = copy.convert("RGB").getpixel(probe(*copy.size))
            assert (RED if red > blue else BLUE) == first
            assert (copy.size[0] > copy.size[1]) == (size[0] > size[1])


def test_it_reads_exif_time_and_gps(tmp_path):
    store = EvidenceStore(tmp_path, 5 * MB)
    local = store.ingest(images.make_jpeg(taken_at=dt.datetime(2026, 3, 1, 7, 0), exif_gps=(-33.8568, -70.6)))
    assert local.taken_at == dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC)  # read as Beijing time
    assert (round(local.gps_lat, 4), round(local.gps_lon, 4)) == (-33.8568, -70.6)
    offset = store.ingest(images.make_jpeg(taken_at=dt.datetime(2026, 3, 1, 7, 0), offset="+02:00", seed=1))
    assert offset.taken_at == dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)
    bare = store.ingest(images.make_jpeg(seed=2))
    assert (bare.taken_at, bare.gps_lat, bare.gps_lon) == (None, None, None)


@pytest.mark.parametrize("seed", range(4))
def test_a_resized_recompressed_copy_has_nearly_the_same_phash(store, seed):
    original = images.make_jpeg(1000, 750, seed=seed, noise=0.1)
    copies = [images.recompressed(original, scale=0.5, quality=70),
              images.recompressed(original, scale=0.32, quality=60),  # 4000 px sent as 1280 px
              images.recompressed(original, scale=0.25, quality=50),
              images.encode(Image.open(io.BytesIO(original)), "PNG", compress_level=1)]
    other = store.ingest(images.make_jpeg(1000, 750, seed=seed + 100, noise=0.1)).phash
    first = store.ingest(original).phash
    for copy in copies:
        assert hamming(first, store.ingest(copy).phash) <= 3
    assert hamming(first, other) > 2 * evidence.SIMILAR_BITS


# --- flags on reports (SQLite and PostgreSQL) ---------------------------------------------------

@pytest.fixture
def world(engine, store):
    """Three assets: two placed in villages of different townships, one without coordinates."""
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        mill = make_asset(session, tree.village_a1, name="新桥村扶贫车间", latitude=31.4, longitude=117.2)
        barn = make_asset(session, tree.village_b1, name="梨树村养殖场", latitude=31.5, longitude=117.3)
        unplaced = make_asset(session, tree.village_a2, name="王庄村光伏电站", latitude=None, longitude=None)
        session.commit()
    return {"engine": engine, "store": store, "mill": mill, "barn": barn, "unplaced": unplaced}


def report(session: Session, asset, period: str = "2026-03", version: int = 1) -> Report:
    row = Report(asset_id=asset.id, form_id="operating-monthly", period=period, version=version)
    session.add(row)
    session.flush()
    return row


def use(session: Session, store: EvidenceStore, data: bytes, rep: Report, question: str = "board",
        period_start: dt.date = MARCH) -> PhotoUse:
    return record_use(session, photo=store.ingest(data), report=rep, question_key=question,
                      period_start=period_start)


def saved(world: dict, row: PhotoUse) -> list[dict]:
    """Return the flags of a PhotoUse as stored in the database."""
    with Session(world["engine"]) as session:
        return session.get(PhotoUse, row.id).flags


def codes(world: dict, row: PhotoUse) -> list[str]:
    return [flag["code"] for flag in saved(world, row)]


def test_a_photo_sent_for_another_assets_report_is_flagged_reused(world):
    store, mill, barn = world["store"], world["mill"], world["barn"]
    picture = images.make_jpeg(seed=7)
    with Session(world["engine"], expire_on_commit=False) as session:
        first = use(session, store, picture, report(session, mill))
        second = use(session, store, picture, report(session, barn))
        session.commit()
        assert codes(world, first) == []
        (flag,) = saved(world, second)
        assert flag["code"] == "reused"
        shown = {key: flag["params"][key] for key in ("match", "distance", "asset", "asset_id", "period")}
        assert shown == {"match": "same", "distance": 0, "asset": "新桥村扶贫车间", "asset_id": mill.id,
                         "period": "2026-03"}
        assert len(session.exec(select(Photo)).all()) == 1  # one picture, two uses
    with Session(world["engine"], expire_on_commit=False) as session:
        stored = evidence.report_photo_flags(session, second.report_id)
    assert [(f["code"], f["question_key"]) for f in stored] == [("reused", "board")]
    assert flag_label("zh_CN", stored[0]) == "这张照片已在新桥村扶贫车间（2026年3月）的报告中使用过。"
    assert flag_label("en", stored[0]) == "Photo already sent for 新桥村扶贫车间 (March 2026)."


def test_a_photo_from_an_earlier_report_of_the_same_asset_is_flagged(world):
    store, mill = world["store"], world["mill"]
    picture = images.make_jpeg(seed=8)
    with Session(world["engine"], expire_on_commit=False) as session:
        february = report(session, mill, "2026-02")
        use(session, store, picture, february, period_start=dt.date(2026, 2, 1))
        march = use(session, store, images.recompressed(picture), report(session, mill, "2026-03"))
        session.commit()
    (flag,) = saved(world, march)
    assert (flag["code"], flag["params"]["match"], flag["params"]["report_id"]) == \
        ("reused", "similar", february.id)
    assert flag["params"]["distance"] <= evidence.SIMILAR_BITS
    assert flag_label("en", flag) == "Photo almost identical to one sent for 新桥村扶贫车间 (February 2026)."
    assert flag_label("zh_CN", flag) == "这张照片与新桥村扶贫车间（2026年2月）报告中的照片几乎相同。"


def test_the_identical_file_is_named_before_a_look_alike_sent_earlier(world):
    store, mill, barn = world["store"], world["mill"], world["barn"]
    picture = images.make_jpeg(seed=17)
    with Session(world["engine"], expire_on_commit=False) as session:
        use(session, store, images.recompressed(picture), report(session, barn, "2026-01"),
            period_start=dt.date(2026, 1, 1))
        use(session, store, picture, report(session, mill, "2026-02"), period_start=dt.date(2026, 2, 1))
        march = use(session, store, picture, report(session, mill, "2026-03"))
        session.commit()
    (flag,) = saved(world, march)
    assert (flag["params"]["match"], flag["params"]["asset"], flag["params"]["period"]) == \
        ("same", "新桥村扶贫车间", "2026-02")


def test_the_same_report_is_not_reuse(world):
    store, mill = world["store"], world["mill"]
    picture = images.make_jpeg(seed=9)
    with Session(world["engine"], expire_on_commit=False) as session:
        march = report(session, mill)
        board = use(session, store, picture, march, "board")
        again = use(session, store, picture, march, "board")
        sign = use(session, store, picture, march, "signboard")
        march.current = False
        sent_back = report(session, mill, version=2)  # a send-back: a new version of the same report
        resent = use(session, store, picture, sent_back, "board")
        session.commit()
        assert again.id == board.id
        assert [codes(world, board), codes(world, sign), codes(world, resent)] == [[], [], []]
        assert len(session.exec(select(PhotoUse)).all()) == 3


def test_a_photo_taken_far_from_the_asset_is_flagged(world):
    store, mill, unplaced = world["store"], world["mill"], world["unplaced"]
    with Session(world["engine"], expire_on_commit=False) as session:
        rep = report(session, mill)
        near = use(session, store, images.make_jpeg(seed=10, exif_gps=(31.403, 117.202)), rep)
        far = use(session, store, images.make_jpeg(seed=11, exif_gps=(31.5, 117.2)), rep, "signboard")
        nowhere = use(session, store, images.make_jpeg(seed=12, exif_gps=(39.9, 116.4)),
                      report(session, unplaced))
        session.commit()
    assert codes(world, near) == [] and codes(world, nowhere) == []
    (flag,) = saved(world, far)
    assert flag["code"] == "far" and flag["params"]["distance_km"] == "11.1"
    assert flag_label("en", flag) == "Photo taken 11.1 km from the asset's recorded location."
    assert flag_label("zh_CN", flag) == "照片拍摄地点距资产登记位置11.1公里。"


def test_a_photo_taken_long_before_the_period_is_flagged(world):
    store, mill = world["store"], world["mill"]
    with Session(world["engine"], expire_on_commit=False) as session:
        rep = report(session, mill)
        recent = use(session, store, images.make_jpeg(seed=13, taken_at=dt.datetime(2026, 2, 20, 10, 0)), rep)
        # 29 January 07:00 in Beijing (31 days before March) is still 28 January in UTC: the local day counts.
        edge = use(session, store, images.make_jpeg(seed=14, taken_at=dt.datetime(2026, 1, 29, 7, 0)), rep, "b")
        old = use(session, store, images.make_jpeg(seed=15, taken_at=dt.datetime(2025, 11, 20, 10, 0)), rep, "c")
        session.commit()
    assert codes(world, recent) == [] and codes(world, edge) == []
    (flag,) = saved(world, old)
    assert flag == {"code": "old", "params": {"taken": "2025-11-20", "days": 101}}
    assert flag_label("en", flag) == "Photo taken on 2025-11-20, 101 days before the reporting period began."
    assert flag_label("zh_CN", flag) == "照片拍摄于2025-11-20，比报告期开始早101天。"


def test_a_photo_can_carry_several_flags(world):
    store, mill, barn = world["store"], world["mill"], world["barn"]
    picture = images.make_jpeg(seed=16, exif_gps=(30.0, 115.0), taken_at=dt.datetime(2024, 6, 1, 12, 0))
    with Session(world["engine"], expire_on_commit=False) as session:
        use(session, store, picture, report(session, barn, "2025-12"), period_start=dt.date(2025, 12, 1))
        row = use(session, store, picture, report(session, mill))
        session.commit()
    assert codes(world, row) == ["reused", "old", "far"]


def test_unknown_or_outdated_flags_get_a_generic_label():
    assert flag_label("zh_CN", {"code": "mystery"}) == "可疑照片。"
    assert flag_label("en", {"code": "far", "params": {"km": 3}}) == "Doubtful photo."


def test_every_evidence_message_is_translated():
    found = extract_messages(SOURCE_DIR / "services")
    wanted = {msgid for msgid, places in found.items() if any("evidence.py:" in p for p in places)}
    assert {evidence.MSG_NOT_PHOTO, evidence.MSG_CORRUPT, *evidence.FLAG_LABELS.values()} <= wanted
    missing = missing_translations()
    for locale in ("zh_CN", "en"):
        assert sorted(wanted & set(missing[locale])) == [], locale
    assert all(translate("zh_CN", msgid) != msgid for msgid in wanted)
