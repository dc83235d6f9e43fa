"""Pictures generated for tests: photo-like JPEG/PNG/WebP with chosen EXIF, and bad files.

Reusable by any test that needs an upload (evidence service, Telegram, web form).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter

Gps = tuple[float, float]  # signed latitude, longitude


def photo_like(width: int, height: int, *, seed: int = 0, noise: float = 0.0) -> Image.Image:
    """Return an RGB picture of soft coloured shapes (distinct per seed), with optional grain."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (48, 36), tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(small)
    for _ in range(14):
        x, y = rnd.randrange(-8, 48), rnd.randrange(-8, 36)
        box = [x, y, x + rnd.randrange(6, 28), y + rnd.randrange(6, 24)]
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image = small.filter(ImageFilter.GaussianBlur(1)).resize((width, height), Image.Resampling.BICUBIC)
    if noise:  # seeded grain (Image.effect_noise is not), so the same seed gives the same bytes
        grain = Image.frombytes("L", (width, height), rnd.randbytes(width * height)).convert("RGB")
        image = Image.blend(image, grain, noise)
    return image


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def make_exif(*, gps: Gps | None = None, taken_at: dt.datetime | None = None,
              orientation: int | None = None, offset: str | None = None) -> Image.Exif:
    """Return EXIF with Orientation, DateTimeOriginal (+ OffsetTimeOriginal) and GPS as asked."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make: so that there is always something to strip
    if orientation is not None:
        exif[0x0112] = orientation
    if taken_at is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            sub[0x9011] = offset
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "S" if lat < 0 else "N"
        ifd[2] = _dms(lat)
        ifd[3] = "W" if lon < 0 else "E"
        ifd[4] = _dms(lon)
    return exif


def encode(image: Image.Image, fmt: str = "JPEG", *, exif: Image.Exif | None = None, **options) -> bytes:
    """Return the image encoded in ``fmt`` (with EXIF when given)."""
    out = io.BytesIO()
    if exif is not None:
        options["exif"] = exif.tobytes()
    if fmt == "JPEG":
        options.setdefault("quality", 90)
    image.save(out, fmt, **options)
    return out.getvalue()


def make_jpeg(width: int = 800, height: int = 600, *, exif_gps: Gps | None = None,
              taken_at: dt.datetime | None = None, orientation: int | None = None, seed: int = 0,
              quality: int = 90, noise: float = 0.0, offset: str | None = None) -> bytes:
    """Return a photo-like JPEG, with EXIF (camera make plus whatever is asked)."""
    exif = make_exif(gps=exif_gps, taken_at=taken_at, orientation=orientation, offset=offset)
    return encode(photo_like(width, height, seed=seed, noise=noise), "JPEG", exif=exif, quality=quality)


def make_png(width: int = 640, height: int = 480, *, seed: int = 0, alpha: bool = False) -> bytes:
    """Return a photo-like PNG, optionally with a transparent border."""
    image = photo_like(width, height, seed=seed)
    if alpha:
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).rectangle([width // 8, height // 8, width * 7 // 8, height * 7 // 8], fill=255)
        image.putalpha(mask)
    return encode(image, "PNG")


def make_webp(width: int = 640, height: int = 480, *, seed: int = 0) -> bytes:
    """Return a photo-like WebP."""
    return encode(photo_like(width, height, seed=seed), "WEBP", quality=85)


def recompressed(data: bytes, *, scale: float = 0.5, quality: int = 70) -> bytes:
    """Return a picture resized and re-encoded as JPEG, as a messenger forwarding it would."""
    with Image.open(io.BytesIO(data)) as image:
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        return encode(image.convert("RGB").resize(size, Image.Resampling.LANCZOS), "JPEG", quality=quality)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    """Return the first part of a file, as an interrupted upload leaves it."""
    return data[: int(len(data) * keep)]


def padded(data: bytes, total_bytes: int) -> bytes:
    """Return a valid picture grown to ``total_bytes`` with trailing bytes that decoders ignore."""
    return data + b"\0" * max(0, total_bytes - len(data))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@lru_cache(maxsize=4)
def make_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """Return a real, valid 1-bit PNG of ``width``×``height`` white pixels; it compresses to a few dozen KB."""
    row = b"\0" + b"\xff" * ((width + 7) // 8)  # filter byte, then packed 1-bit pixels
    packer = zlib.compressobj(9)
    rows_per_block = max(1, (1 << 20) // len(row))
    block = packer.compress(row * rows_per_block)
    parts = [block]
    done = rows_per_block
    while done + rows_per_block <= height:
        parts.append(packer.compress(row * rows_per_block))
        done += rows_per_block
    parts.append(packer.compress(row * (height - done)))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def make_pdf() -> bytes:
    """Return a minimal one-page PDF."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")
