"""Worst-case uploads against a served instance: the server's memory stays bounded and comes back.

A real uvicorn process (one worker, the real app on a SQLite file) serves a village with a disclosed
asset and a cadre's draft standing at a photo question. ``BENCH_UPLOADS_CONCURRENCY`` (20) uploads
are posted at once, each on its own connection, through the villager's report form and (as many as
the draft's photo questions take) the cadre's web form, of three kinds:

- PNG bombs: 7070×7070 16-bit RGBA, about 0.4 MB on the wire, 400 MB if decoded in full;
- PNGs just under the decode budget (about 4000×3000 RGB noise, ~36 MB on the wire), decoded;
- big JPEGs: 8000×6000 camera-like photos (48 MP, ~5-10 MB), decoded at 1/4 scale.

Each upload carries a distinct comment, so no two are the same file. PNG bombs are refused before
decoding; the others are decoded.

Figures: the server's RSS at rest (the baseline), its peak during the burst (VmHWM, reset before),
and its RSS a few seconds after; the ratios peak / baseline and after / baseline; uploads/s.
Target (issue 14): peak under 400 MB, and the memory returns afterwards.

    python -m bench uploads
"""

from __future__ import annotations

import io
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = int(os.environ.get("BENCH_UPLOADS_CONCURRENCY", "20"))
SECRET = "bench-uploads-secret-0123456789abcdef"
TARGET_MB = 400
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
ERROR_RE = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
KEY_RE = re.compile(r'data-question="([^"]+)"')


# --- worst-case pictures ---------------------------------------------------------------------------

def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png16_bomb(side: int = 7070) -> bytes:
    """Return a valid 16-bit RGBA PNG of ``side``×``side`` transparent pixels (a few hundred kB)."""
    row = b"\0" + b"\0" * (side * 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def noise_png(width: int = 4000, height: int = 3000, seed: int = 0) -> bytes:
    """Return a 12 MP RGB PNG, its top 40 % random (~14 MB on the wire), decoded in full (under the budget)."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (90, 140, 60))
    rows = height * 2 // 5
    image.paste(Image.frombytes("RGB", (width, rows), random.Random(seed).randbytes(width * rows * 3)), (0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def big_jpeg(width: int = 8000, height: int = 6000, seed: int = 0) -> bytes:
    """Return a camera-like 48 MP JPEG (grain on soft shapes)."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    small = Image.new("RGB", (80, 60), tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(small)
    for _ in range(20):
        x, y = rnd.randrange(80), rnd.randrange(60)
        draw.ellipse([x, y, x + rnd.randrange(5, 30), y + rnd.randrange(5, 30)],
                     fill=tuple(rnd.randrange(256) for _ in range(3)))
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    grain = Image.frombytes("L", (width // 4, height // 4), rnd.randbytes(width * height // 16))
    image = Image.blend(image, grain.resize((width, height)).convert("RGB"), 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def unique(data: bytes, n: int) -> bytes:
    """Return the picture with a comment that makes its bytes (and SHA-256) distinct; the pixels are the same."""
    text = f"upload {n}".encode()
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # a tEXt chunk after IHDR (8 + 25 bytes)
        return data[:33] + _chunk(b"tEXt", b"Comment\0" + text) + data[33:]
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]  # JPEG COM after SOI


# --- a served instance -------------------------------------------------------------------------------

def app_factory():
    """Return the app served by the child process (uvicorn --factory), configured by the environment."""
    from bot.config import Settings
    from bot.web.app import create_app

    settings = Settings(data_dir=Path(os.environ["BENCH_UPLOADS_DATA"]), database_url=os.environ["BENCH_UPLOADS_DB"],
                        telegram_token="", public_url="http://testserver", secret_key=SECRET,
                        max_upload_mb=int(os.environ.get("BENCH_UPLOADS_MAX_MB", "20")))
    return create_app(settings)


@dataclass
class Served:
    """A running child server: its URL, pid, the asset's public token and a cadre's sign-in path."""

    base: str
    port: int
    pid: int
    token: str
    asset_id: int
    sign_in_path: str
    db_url: str

    def memory_mb(self) -> tuple[float, float]:
        """Return the server's (RSS, peak RSS since the last reset) in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def reset_peak(self) -> None:
        """Reset the server's VmHWM to its current RSS (Linux /proc/<pid>/clear_refs)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def new_link(self) -> str:
        """Return a fresh single-use sign-in path for the cadre."""
        from sqlmodel import Session, select

        from bot.services import weblinks
        from bot.storage.db import make_engine
        from bot.storage.models import User

        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                cadre = session.exec(select(User).where(User.role == "village_cadre").order_by(User.id)).first()
                url = weblinks.create_link(session, cadre, secret=SECRET, public_url="http://testserver")
                session.commit()
        finally:
            engine.dispose()
        return url.removeprefix("http://testserver")


def _populate(db_url: str, data_dir: Path) -> tuple[str, int, str]:
    """Migrate and fill the database (the web tests' world); return (public token, asset id, sign-in path)."""
    from sqlmodel import Session

    from bot.services import weblinks
    from bot.services.evidence import MB, EvidenceStore
    from bot.storage.db import make_engine, upgrade
    from tests.web.conftest import populate

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = populate(session, EvidenceStore(data_dir / "evidence", 20 * MB))
            url = weblinks.create_link(session, world.cadre, secret=SECRET, public_url="http://testserver")
            session.commit()
            return world.asset.public_token, world.asset.id, url.removeprefix("http://testserver")
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(workdir: Path, *, max_upload_mb: int = 20) -> Iterator[Served]:
    """Run the real app under uvicorn in a child process on a populated SQLite file; yield it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    data = workdir / "data"
    db_url = f"sqlite:///{workdir / 'uploads.sqlite3'}"
    token, asset_id, link = _populate(db_url, data)
    port = _free_port()
    env = {**os.environ, "BENCH_UPLOADS_DB": db_url, "BENCH_UPLOADS_DATA": str(data),
           "BENCH_UPLOADS_MAX_MB": str(max_upload_mb),
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}
    log = open(workdir / "server.log", "w+")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bench_uploads:app_factory", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning", "--lifespan", "off"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError("the server exited: " + log.read()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield Served(f"http://127.0.0.1:{port}", port, server.pid, token, asset_id, link, db_url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


# --- clients -----------------------------------------------------------------------------------------

def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    if match is None:
        raise RuntimeError("no CSRF field on the page")
    return match.group(1)


def villager(served: Served):
    """Return (httpx client holding a device cookie, the report form's CSRF token)."""
    import httpx

    client = httpx.Client(base_url=served.base, follow_redirects=False, timeout=300)
    page = client.get(f"/p/{served.token}")
    return client, csrf_of(page.text)


def post_villager(client, served: Served, csrf: str, name: str, data: bytes, text: str = "路灯坏了，晚上很黑"):
    """Post a villager's report with a photo; return the response."""
    return client.post(f"/p/{served.token}/report", data={"csrf": csrf, "text": text, "category": "other"},
                       files={"photo": (name, data, "application/octet-stream")})


def cadre_at_photo(served: Served):
    """Sign the cadre in, open a draft and walk it to its first photo question; return (client, report id, key)."""
    client, report_id, keys = cadre_at_photos(served)
    return client, report_id, keys[0]


def cadre_at_photos(served: Served):
    """As ``cadre_at_photo``, returning the keys of every photo question of the form (each takes 3 photos)."""
    import httpx

    from bot.flows import load_form
    from tests.web.test_form import answer_current

    client = httpx.Client(base_url=served.base, follow_redirects=False, timeout=300)
    if client.get(served.new_link()).status_code != 303:
        raise RuntimeError("the cadre could not sign in")
    overview = client.get("/f")
    response = client.post(f"/f/start/{served.asset_id}", data={"csrf": csrf_of(overview.text)})
    report_id = int(re.search(r"/f/report/(\d+)", response.headers["location"]).group(1))
    form = load_form("monthly-operating")
    for _ in range(60):
        page = client.get(f"/f/report/{report_id}")
        key = KEY_RE.search(page.text).group(1)
        if form.question(key).type == "photo":
            return client, report_id, [q.key for q in form.questions if q.type == "photo"]
        answer_current(client, report_id, form)
    raise RuntimeError("no photo question reached")


def post_cadre(client, report_id: int, key: str, name: str, data: bytes):
    """Post one photo to the cadre's draft; return the response: the 303 of an accepted photo, or the page that
    shows a refusal (the post redirects to it with a signed ``msg``, post/redirect/get; it answers with the
    refusal's status)."""
    page = client.get(f"/f/report/{report_id}")
    response = client.post(f"/f/report/{report_id}/step", data={"csrf": csrf_of(page.text), "key": key,
                                                                "action": "photo"},
                           files={"photo": (name, data, "application/octet-stream")})
    if response.status_code == 303 and "msg=" in response.headers.get("location", ""):
        return client.get(response.headers["location"])
    return response


# --- the benchmark -----------------------------------------------------------------------------------

def refusal_of(response) -> str:
    """Return the message of a refused upload's page (or its body's start)."""
    match = ERROR_RE.search(response.text)
    return match.group(1) if match else response.text[:200]


def _burst(served: Served, uploads: list[tuple[str, bytes]]) -> tuple[list[int], float, float, set[str]]:
    """Post all uploads at once; return (statuses, seconds, peak RSS MB, refusals).

    The cadre's draft takes 3 photos per photo question (a full question refuses before decoding):
    the cadre sends that many, spread over the questions; villagers send the rest, each from a device.
    """
    cadre, report_id, keys = cadre_at_photos(served)
    slots = [key for key in keys for _ in range(3)]
    by_cadre = {i: slots[n] for n, i in enumerate(range(1, len(uploads), 3)) if n < len(slots)}
    villagers = {i: villager(served) for i in range(len(uploads)) if i not in by_cadre}
    statuses: list[int] = [0] * len(uploads)
    refusals: set[str] = set()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], served.memory_mb()[0])
            time.sleep(0.05)

    def one(i: int) -> None:
        name, data = uploads[i]
        try:
            if i in villagers:
                client, csrf = villagers[i]
                response = post_villager(client, served, csrf, name, data, text=f"第{i}号：路灯坏了")
            else:
                response = post_cadre(cadre, report_id, by_cadre[i], name, data)
            statuses[i] = response.status_code
            if response.status_code != 303:
                refusals.add(f"{name}: {refusal_of(response)}")
        except Exception as exc:  # noqa: BLE001 - a failed connection is a figure too
            statuses[i] = -1
            print("upload failed:", exc, file=sys.stderr)

    served.reset_peak()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(uploads))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return statuses, seconds, max(peak[0], served.memory_mb()[1]), refusals


def run() -> list[dict]:
    """Return rows {name, value, unit, note}: memory at rest, at the peak of the burst, and after it."""
    bomb = png16_bomb()
    heavy_png = noise_png()
    jpegs = [big_jpeg(seed=seed) for seed in range(2)]
    kinds = [("bomb.png", bomb), ("noise.png", heavy_png), ("camera.jpg", jpegs[0]), ("camera2.jpg", jpegs[1])]
    uploads = [(name, unique(data, i)) for i, (name, data) in
               ((i, kinds[i % len(kinds)]) for i in range(CONCURRENCY))]
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as served:
        warm_client, warm_csrf = villager(served)
        post_villager(warm_client, served, warm_csrf, "warm.jpg", jpegs[0])  # imports and caches in place
        time.sleep(1)
        baseline, _ = served.memory_mb()
        statuses, seconds, peak, refusals = _burst(served, uploads)
        time.sleep(3)
        after, _ = served.memory_mb()
    by_kind: dict[str, list[int]] = {}
    for (name, _), status in zip(uploads, statuses):
        by_kind.setdefault(name, []).append(status)
    print("  statuses:", {name: sorted(set(codes)) for name, codes in by_kind.items()}, flush=True)
    for refusal in sorted(refusals):
        print("  refused:", refusal, flush=True)
    accepted = sum(1 for s in statuses if s == 303)
    refused = sum(1 for s in statuses if s in (400, 413, 429))
    failed = len(statuses) - accepted - refused
    wire_mb = sum(len(d) for _, d in uploads) / 2**20
    note = f"{CONCURRENCY} at once: PNG bombs 7070² 16-bit, 12 MP noise PNGs, 48 MP JPEGs; {wire_mb:.0f} MB sent"
    return [
        {"name": "server RSS at rest (baseline)", "value": round(baseline, 1), "unit": "MB", "note": ""},
        {"name": "server peak RSS in the burst", "value": round(peak, 1), "unit": "MB",
         "note": f"target < {TARGET_MB} MB; {note}"},
        {"name": "peak / baseline", "value": round(peak / baseline, 2), "unit": "ratio", "note": ""},
        {"name": "server RSS 3 s after", "value": round(after, 1), "unit": "MB", "note": "memory returns"},
        {"name": "after / baseline", "value": round(after / baseline, 2), "unit": "ratio", "note": ""},
        {"name": "uploads/s", "value": round(len(uploads) / seconds, 2), "unit": "/s",
         "note": f"{accepted} accepted, {refused} refused, {failed} failed"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<32} {row['value']:>10} {row['unit']:<6} {row['note']}")
