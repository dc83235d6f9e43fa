"""Uploads bounded before they cost (issue 14): body limits before parsing and CSRF, decoding bounded in memory.

The attacks run against the real app served by uvicorn in a child process (``bench.bench_uploads.serve``),
so the memory measured is the server's own (RSS and its peak, VmHWM, reset just before each attack).
"""

from __future__ import annotations

import io
import select
import socket
import threading
import time

import pytest
from PIL import Image

from bench.bench_uploads import (
    cadre_at_photo,
    png16_bomb,
    post_cadre,
    post_villager,
    refusal_of,
    serve,
    unique,
    villager,
)
from bot.services import evidence
from bot.services.evidence import MB, EvidenceError, EvidenceStore
from bot.web import limits
from tests.services import images

MSG_BOMB_ZH = "图片过大，无法处理"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The real app under uvicorn in a child process, photo limit 20 MB (the default)."""
    with serve(tmp_path_factory.mktemp("served")) as running:
        yield running


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 7070×7070 16-bit RGBA PNG: under 0.5 MB on the wire, under the 50 MP cap, ~400 MB decoded in full."""
    data = png16_bomb(7070)
    assert len(data) < 512 * 1024
    with Image.open(io.BytesIO(data)) as header:
        assert header.size == (7070, 7070) and header.mode == "RGBA"
    return data


@pytest.fixture(scope="module")
def cadre(served):
    """The cadre signed in, a draft standing at its first photo question: (client, report id, key)."""
    client, report_id, key = cadre_at_photo(served)
    yield client, report_id, key
    client.close()


def _grown_mb(served, action) -> tuple[object, float]:
    """Run ``action`` and return (its result, how far the server's peak RSS rose above its RSS before, MB)."""
    served.reset_peak()
    before, _ = served.memory_mb()
    result = action()
    _, peak = served.memory_mb()
    return result, peak - before


# --- decoding bounded in memory --------------------------------------------------------------------

def test_a_png_bomb_through_the_villager_form_is_refused_in_chinese_and_costs_little(served, bomb):
    client, csrf = villager(served)
    response, grown = _grown_mb(served, lambda: post_villager(client, served, csrf, "bomb.png", bomb))
    assert response.status_code == 400
    assert MSG_BOMB_ZH in refusal_of(response)
    assert "JPEG" in refusal_of(response)  # it says what to send instead
    assert grown < 48, f"the server grew by {grown:.0f} MB"


def test_a_png_bomb_through_the_cadres_form_is_refused_in_chinese_and_costs_little(served, cadre, bomb):
    client, report_id, key = cadre
    response, grown = _grown_mb(served, lambda: post_cadre(client, report_id, key, "bomb.png", unique(bomb, 1)))
    assert response.status_code == 400
    assert MSG_BOMB_ZH in refusal_of(response)
    assert grown < 48, f"the server grew by {grown:.0f} MB"


def test_six_bombs_at_once_keep_the_server_small_and_the_memory_returns(served, bomb):
    """The issue's attack: six at once through the villager form peaked at 2.6 GB and left 1.4 GB held."""
    clients = [villager(served) for _ in range(6)]
    statuses: list[int] = []

    def attack() -> None:
        threads = [threading.Thread(target=lambda c=c, n=n: statuses.append(
            post_villager(c[0], served, c[1], "bomb.png", unique(bomb, n), text=f"第{n}条").status_code))
            for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    before, _ = served.memory_mb()
    _, grown = _grown_mb(served, attack)
    assert statuses and set(statuses) <= {400, 429}
    assert grown < 64, f"the server grew by {grown:.0f} MB"
    assert served.memory_mb()[0] - before < 32


def test_bytes_per_pixel_are_counted_whatever_the_format(tmp_path):
    """The cost is counted before decoding: mode, alpha, and the JPEG coefficient buffer of progressive files."""
    store = EvidenceStore(tmp_path, 100 * MB)
    with pytest.raises(EvidenceError) as refused:
        store.ingest(png16_bomb(7070))
    assert refused.value.code == "too_costly"
    assert refused.value.params == {"megapixels": 50}
    assert "50 百万像素" in refused.value.message("zh_CN")
    # The same 36 MP picture: as a baseline JPEG it is decoded at 1/4 scale; progressive, libjpeg must
    # hold every coefficient of the full picture, so it is refused.
    flat = Image.new("RGB", (6000, 6000), (90, 140, 60))
    baseline, progressive = io.BytesIO(), io.BytesIO()
    flat.save(baseline, "JPEG")
    flat.save(progressive, "JPEG", progressive=True)
    assert evidence.jpeg_scans(baseline.getvalue()) == 1 and evidence.jpeg_scans(progressive.getvalue()) > 1
    assert store.ingest(baseline.getvalue()).width == 6000
    with pytest.raises(EvidenceError) as refused:
        store.ingest(progressive.getvalue())
    assert refused.value.code == "too_costly"
    # Ordinary pictures pass: a phone screenshot with alpha, a 12 MP PNG, a small progressive JPEG.
    assert store.ingest(images.encode(Image.new("RGBA", (1080, 2400), (1, 2, 3, 200)), "PNG")).height == 2400
    assert store.ingest(images.encode(images.photo_like(4000, 3000), "PNG")).width == 4000
    assert store.ingest(images.encode(images.photo_like(1600, 1200), "JPEG", progressive=True)).width == 1600


def test_scans_are_counted_in_the_first_image_only():
    """Marker bytes inside a segment (an EXIF thumbnail, a comment) or in a second image (MPO) are no scans."""
    data = images.make_jpeg(640, 480)
    assert evidence.jpeg_scans(data) == 1
    comment = b"thumb \xff\xda\xff\xda"
    with_comment = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
    assert evidence.jpeg_scans(with_comment) == 1
    assert evidence.jpeg_scans(data + images.make_jpeg(320, 240)) == 1
    assert evidence.jpeg_scans(b"\xff\xd8\xff\xe0\x00") == 0


def test_no_more_than_the_allowed_decodes_run_at_once(tmp_path, monkeypatch):
    store = EvidenceStore(tmp_path, 20 * MB)
    running, most, lock = [0], [0], threading.Lock()
    real = evidence._to_rgb

    def watched(image):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)  # long enough that the others would start meanwhile, if they could
        with lock:
            running[0] -= 1
        return real(image)

    monkeypatch.setattr(evidence, "_to_rgb", watched)
    threads = [threading.Thread(target=store.ingest, args=(images.make_jpeg(400, 300, seed=n),)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == evidence.DECODE_CONCURRENCY == 2
    assert len(list((tmp_path / "thumbs").iterdir())) == 6


# --- bodies capped before parsing and before CSRF --------------------------------------------------

def _read_response(sock: socket.socket, timeout: float = 60) -> tuple[int, bytes]:
    """Read one HTTP response (status, body) from a raw socket; the server closes or sends Content-Length."""
    sock.settimeout(timeout)
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head, "no answer"
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    while length is not None and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def _multipart_head(served, path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\n" + extra + "\r\n").encode()


PART = (b"--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"big.jpg\"\r\n"
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff")


def test_a_300_mb_declared_anonymous_body_is_refused_at_once_before_csrf(served):
    """No cookie, no CSRF token, 300 MB announced: 413 after the first 64 kB, the rest never sent."""
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(_multipart_head(served, f"/p/{served.token}/report", f"Content-Length: {300 * MB}\r\n"))
        sock.sendall(PART + b"\0" * (64 * 1024))
        # The server answers while 299.9 MB are still to come: it did not wait for (or read) the body.
        status, body = _read_response(sock)
    assert status == 413  # not 403: refused before the CSRF check
    text = body.decode()
    assert "照片太大（约 300 MB），上限为 20 MB" in text


def test_a_300_mb_streamed_anonymous_body_is_refused_while_streaming(served):
    """Chunked, no length: counted as it comes, refused just past the limit; the server does not grow."""
    chunk = b"\0" * (256 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0

    def stream() -> tuple[int, bytes]:
        nonlocal sent
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(_multipart_head(served, f"/p/{served.token}/report", "Transfer-Encoding: chunked\r\n"))
            sock.sendall(f"{len(PART):x}\r\n".encode() + PART + b"\r\n")
            try:
                while sent < 300 * MB:
                    if select.select([sock], [], [], 0)[0]:
                        break  # the answer is there: stop sending
                    sock.sendall(frame)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return _read_response(sock)

    (status, body), grown = _grown_mb(served, stream)
    assert status == 413
    assert "照片太大，上限为 20 MB" in body.decode()
    assert sent < 64 * MB, f"{sent / MB:.0f} MB were sent before the answer"
    assert grown < 24, f"the server grew by {grown:.0f} MB"


def test_an_oversized_json_body_is_refused_with_json_in_the_users_language(served):
    import httpx

    with httpx.Client(base_url=served.base, timeout=60) as client:
        response = client.post("/api/reports", content=b"[" + b"0," * (MB // 2 + 10) + b"0]",
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.json() == {"detail": "提交的内容太大，无法接收（上限为 1 MB）。"}
        english = client.post("/api/reports?lang=en", content=b"0" * (2 * MB),
                              headers={"Content-Type": "application/json"})
        assert english.json() == {"detail": "What was sent is too large to accept (the limit is 1 MB)."}
        webhook = client.post("/telegram/webhook", content=b"{" + b" " * (2 * MB) + b"}")
        assert webhook.status_code == 413


# --- the photo limit, stated right; normal photos pass ---------------------------------------------

def test_a_25_mb_photo_is_refused_with_the_real_figures(served, cadre):
    client, report_id, key = cadre
    big = b"\xff\xd8\xff\xe0" + b"\0" * (25 * MB)
    response = post_cadre(client, report_id, key, "big.jpg", big)
    assert response.status_code == 413
    assert "照片太大（约 25 MB），上限为 20 MB" in refusal_of(response)
    # Just over the limit, under the body cap: refused by the form itself, with the file's real size.
    response = post_cadre(client, report_id, key, "big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * (MB * 41 // 2))
    assert response.status_code == 400
    assert "照片太大（20.5 MB），上限为 20 MB" in refusal_of(response)


def test_normal_photos_still_pass_on_both_forms(served, cadre):
    client, report_id, key = cadre
    response = post_cadre(client, report_id, key, "photo.jpg", images.make_jpeg(4000, 3000, seed=7, noise=0.1))
    assert response.status_code == 303, refusal_of(response)
    page = client.get(f"/f/report/{report_id}")
    assert f"/f/report/{report_id}/photo/" in page.text
    villager_client, csrf = villager(served)
    response = post_villager(villager_client, served, csrf, "photo.jpg", images.make_jpeg(1600, 1200, seed=8),
                             text="水泵漏水，已经好几天了")
    assert response.status_code == 303, refusal_of(response)
    assert "sent=filed" in response.headers["location"]  # filed as a problem for the township


def test_the_limits_per_route_family():
    middleware = limits.BodyLimit(app=None, max_upload_mb=20)
    assert middleware.limit_for("/p/abc/report") == ("photo", 21 * MB)
    assert middleware.limit_for("/f/report/12/step") == ("photo", 21 * MB)
    assert middleware.limit_for("/telegram/webhook") == ("webhook", limits.WEBHOOK_LIMIT)
    assert middleware.limit_for("/api/reports") == ("form", limits.FORM_LIMIT)
    assert middleware.limit_for("/f/report/12/goto") == ("form", limits.FORM_LIMIT)
    assert limits.FORM_LIMIT == MB


def test_a_streamed_json_body_is_counted_and_refused_past_the_limit(sqlite_engine, tmp_path):
    """No Content-Length (chunked): the body is counted as it comes; the route's own 400 is replaced by the 413."""
    from fastapi.testclient import TestClient

    from bot.config import Settings
    from bot.web.app import create_app

    settings = Settings(data_dir=tmp_path / "data", telegram_token="", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    def body():  # (the test client sends it in chunks without a length; the served test above streams for real)
        for _ in range(40):  # 40 × 64 kB = 2.5 MB, the limit is 1 MB
            yield b" " * (64 * 1024)

    client = TestClient(create_app(settings, sqlite_engine))  # no lifespan: the web side alone
    response = client.post("/api/reports/1/answers", content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "提交的内容太大，无法接收（上限为 1 MB）。"}
    small = client.post("/api/reports/1/answers", content=b"{}", headers={"Content-Type": "application/json"})
    assert small.status_code not in (413, 500)
