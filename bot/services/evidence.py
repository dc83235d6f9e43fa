"""Photo evidence: accept only real photos, store them by SHA-256, and flag doubtful ones.

Used by every transport (Telegram, web form), so it takes bytes and returns plain data.

- ``EvidenceStore.ingest(data)`` sniffs the real type from the content, refuses what is not a
  photo, is too big, is damaged or would cost too much memory to decode (``EvidenceError``), and writes:
  ``originals/<sha[:2]>/<sha>`` (the bytes as received, EXIF kept, private),
  ``display/<sha>.jpg`` (at most 1600 px, EXIF removed) and ``thumbs/<sha>.jpg`` (320 px).
- ``phash``/``hamming``: a 64-bit perceptual (DCT) hash computed with Pillow alone.
- ``record_use(session, ...)`` links a photo to a report's question and flags it as
  ``reused`` (same or near-identical picture already sent for another report or asset),
  ``old`` (EXIF time long before the reporting period) or ``far`` (EXIF GPS far from the asset).
- ``flag_label(locale, flag)`` turns a stored flag into a sentence for people.

Decoding is bounded in memory whatever the format (issue 14). After the header is read, and before
a pixel is decoded, ``decode_cost`` counts what the decode will hold at its peak: the pixels at the
size they will be decoded (JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg's draft mode, so a
big camera photo costs a few MB), the bytes per pixel of the decoded mode (Pillow keeps RGB and RGBA
in 4 bytes, 16-bit grey in 2, palette and grey in 1; a 16-bit RGBA PNG is unpacked to 8-bit RGBA),
the premultiplied copy Pillow makes to resize an image with alpha, libjpeg's whole-image coefficient
buffer for progressive or multi-scan JPEGs (2 bytes per sample at full size, whatever the draft
scale), and libwebp's own canvas and copies (about 12 more bytes per pixel, measured). A picture
whose cost passes ``DECODE_BUDGET`` is refused with a message, never decoded: the measured factors
are exact enough for a fixed budget, and refusing is simpler and cheaper than a child process with
an address-space limit (no spawn per photo, no pickling, nothing left running), which was the other
choice. Only ``DECODE_CONCURRENCY`` decodes run at once in a process (a semaphore shared by the
web form, the villager form and the Telegram bot, which all call ``ingest``), and after each decode
the C allocator is asked to hand freed memory back (``malloc_trim``), so memory returns afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import statistics
import struct
import sys
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageFile
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.clock import UTC
from bot.i18n import N_, translate
from bot.services.blobs import BlobStore, LocalStore, open_store
from bot.storage.models import Asset, Photo, PhotoUse, Report

MB = 1024 * 1024
DISPLAY_PX = 1600
THUMB_PX = 320
DISPLAY_QUALITY = 82
THUMB_QUALITY = 80
SIMILAR_BITS = 6          # pHash bits (of 64) within which two pictures count as the same photo
OLD_DAYS = 31
FAR_KM = 2.0
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
DECODE_BUDGET = 96 * MB   # memory one decode may hold at its peak (see decode_cost)
DECODE_CONCURRENCY = 2    # decodes at once per process; the web and Telegram paths share the slots

MIME = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
        "HEIF": "image/heif"}
# HEIF brands (ISO/IEC 23008-12); AVIF is deliberately not among them.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError,
                  TypeError, Image.DecompressionBombError)

# --- messages (msgids are English; shown through bot.i18n.translate) ---------------------------

MSG_NOT_PHOTO = N_("This file is not a photo. Please send a JPEG, PNG or WebP picture.")
MSG_HEIF = N_("This photo is in HEIC format, which cannot be read here. Please send it as a JPEG "
              "(on an iPhone: Settings › Camera › Formats › Most Compatible).")
MSG_TOO_LARGE = N_("The photo is too large ({size} MB). The limit is {limit} MB. "
                   "Please send a smaller photo.")
MSG_TOO_MANY_PIXELS = N_("The picture is too large to process (more than {limit} megapixels). "
                         "Please send an ordinary camera photo.")
MSG_TOO_COSTLY = N_("This picture is too large to process ({megapixels} megapixels in a format that must be read "
                    "whole). Please send it as an ordinary JPEG camera photo.")
MSG_CORRUPT = N_("This photo is damaged or incomplete and cannot be opened. "
                 "Please take the photo again and resend it.")

FLAG_LABELS = {
    "reused": N_("Photo already sent for {asset} ({period})."),
    "reused_similar": N_("Photo almost identical to one sent for {asset} ({period})."),
    "old": N_("Photo taken on {taken}, {days} days before the reporting period began."),
    "far": N_("Photo taken {distance_km} km from the asset's recorded location."),
}
MSG_FLAG_UNKNOWN = N_("Doubtful photo.")


class EvidenceError(Exception):
    """An upload refused for a reason the sender can fix; ``msgid`` is translatable."""

    def __init__(self, code: str, msgid: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.msgid = msgid
        self.params = params or {}

    def message(self, locale: str | None) -> str:
        """Return the reason in the user's language, placeholders filled."""
        return translate(locale, self.msgid, **self.params)


@dataclass(frozen=True)
class IngestedPhoto:
    """What ``ingest`` learnt and wrote; width/height are the upright full-size dimensions."""

    sha256: str
    mime: str
    width: int
    height: int
    size_bytes: int
    phash: str
    taken_at: dt.datetime | None
    gps_lat: float | None
    gps_lon: float | None
    original_key: str = field(compare=False)
    display_key: str = field(compare=False)
    thumb_key: str = field(compare=False)


# --- type sniffing ------------------------------------------------------------------------------

def heif_supported() -> bool:
    """Return whether a HEIF opener (pillow-heif) is registered with Pillow."""
    return "HEIF" in Image.OPEN


def sniff_format(data: bytes) -> str | None:
    """Return the Pillow format name the magic bytes announce (JPEG, PNG, WEBP, HEIF) or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _formats_for(sniffed: str | None) -> list[str]:
    """Return the Pillow plugins allowed to open a file announced as ``sniffed`` (or refuse)."""
    if sniffed is None:
        raise EvidenceError("not_photo", MSG_NOT_PHOTO)
    if sniffed == "HEIF" and not heif_supported():
        raise EvidenceError("heif_unsupported", MSG_HEIF)
    # Phones add an MPF segment to JPEGs: the JPEG opener then returns an image whose format is
    # MPO. "MPO" itself is no opener name (Image.open would fail with KeyError on a bad JPEG).
    return [sniffed]


# --- EXIF ---------------------------------------------------------------------------------------

def _ratio(value: Any) -> float:
    if isinstance(value, tuple):  # (numerator, denominator) from some writers
        return value[0] / value[1]
    return float(value)


def _dms(values: Any, ref: Any, negative: str) -> float | None:
    """Return degrees from EXIF (deg, min, sec) and a hemisphere ref ('S' or 'W' negative)."""
    try:
        deg, minutes, seconds = (_ratio(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    number = deg + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return -number if str(ref).strip().upper() == negative else number


def exif_gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    """Return (latitude, longitude) as signed degrees, or (None, None) when absent or invalid."""
    gps = exif.get_ifd(0x8825)
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat = _dms(gps[2], gps.get(1, "N"), "S")
    lon = _dms(gps[4], gps.get(3, "E"), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    if lat == 0 and lon == 0:  # "no fix" written as zeros by some cameras
        return None, None
    return round(lat, 7), round(lon, 7)


def exif_taken_at(exif: Image.Exif, local_tz: dt.tzinfo) -> dt.datetime | None:
    """Return DateTimeOriginal as aware UTC; without OffsetTimeOriginal it is read in ``local_tz``."""
    sub = exif.get_ifd(0x8769)
    raw = sub.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else the file's DateTime
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(0x9011)  # OffsetTimeOriginal, e.g. "+08:00"
    try:
        tz = dt.datetime.strptime(offset.strip(), "%z").tzinfo if isinstance(offset, str) else local_tz
    except ValueError:
        tz = local_tz
    return moment.replace(tzinfo=tz).astimezone(UTC)


# --- perceptual hash ----------------------------------------------------------------------------

_HASH_SIDE = 32
# The first 8 rows of the 32-point DCT-II basis: all the hash needs of the transform.
_DCT8 = [[math.cos(math.pi * (2 * x + 1) * u / (2 * _HASH_SIDE)) for x in range(_HASH_SIDE)] for u in range(8)]


def phash(image: Image.Image) -> str:
    """Return a 64-bit perceptual hash (DCT pHash) of an upright image as 16 hex characters.

    The picture is reduced to 32×32 grey pixels; of its 2-D DCT the 8×8 lowest frequencies
    are kept, and each bit says whether a coefficient is above their median (DC left out of the
    median). Re-encoding, resizing and mild colour changes move a few bits at most, where a
    difference hash flips many on flat areas such as a wall or the sky.
    """
    pixels = image.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX).tobytes()
    rows = [pixels[r * _HASH_SIDE:(r + 1) * _HASH_SIDE] for r in range(_HASH_SIDE)]
    # Separable transform, low frequencies only: T = D8·X (8×32), then C = T·D8ᵀ (8×8).
    half = [[sum(basis[x] * rows[x][c] for x in range(_HASH_SIDE)) for c in range(_HASH_SIDE)]
            for basis in _DCT8]
    coefficients = [sum(half[u][c] * _DCT8[v][c] for c in range(_HASH_SIDE)) for u in range(8) for v in range(8)]
    median = statistics.median(coefficients[1:])
    bits = 0
    for value in coefficients:
        bits = (bits << 1) | (value > median)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    """Return how many bits differ between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- image work ---------------------------------------------------------------------------------

def _fit(size: tuple[int, int], limit: int) -> tuple[int, int]:
    """Return ``size`` scaled down (never up) so that its longer side is at most ``limit``."""
    width, height = size
    scale = min(1.0, limit / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB image; transparency is laid on white, as a viewer would show it."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit grey to 8-bit
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Return ``image`` at ``size``; BOX (area average) is sharp enough and cheap for downscaling."""
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    """Encode one of our own images as baseline JPEG, carrying no metadata of the source."""
    out = io.BytesIO()
    image.info = {}  # resize keeps the source's info (EXIF, XMP, comment): drop it, don't copy pixels
    image.save(out, "JPEG", quality=quality, exif=b"", xmp=b"", optimize=False)
    return out.getvalue()


@dataclass
class _Decoded:
    """A verified picture: upright RGB at display size, and what its header said."""

    display: Image.Image
    fmt: str
    width: int
    height: int
    exif: Image.Exif


def _open_header(data: bytes, formats: list[str], max_pixels: int) -> ImageFile.ImageFile:
    """Open without decoding and refuse a picture with more than ``max_pixels`` pixels."""
    limit = {"limit": max(1, max_pixels // 1_000_000)}
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError:  # Pillow's own header check fired first
        raise EvidenceError("too_many_pixels", MSG_TOO_MANY_PIXELS, limit) from None
    except _DECODE_ERRORS:  # the magic bytes announced a photo (and UnidentifiedImageError is an OSError)
        raise EvidenceError("corrupt", MSG_CORRUPT) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise EvidenceError("too_many_pixels", MSG_TOO_MANY_PIXELS, {**limit, "width": width, "height": height})
    return image


# --- decode cost -------------------------------------------------------------------------------

_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}  # else 4 (Pillow)
_ALPHA_MODES = ("LA", "RGBA")   # resized through a premultiplied full-size copy (La, RGBa)
_CANVAS_BYTES = {"WEBP": 12, "HEIF": 12}  # the decoder's own canvas and copies, per pixel (measured)
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_scans(data: bytes) -> int:
    """Return how many scans the first image of a JPEG has (1 for a baseline photo; 0 if unreadable).

    Segments are walked by their lengths up to the first SOS (so an EXIF thumbnail is skipped);
    after it, entropy-coded data cannot hold 0xFF 0xDA, so every such pair up to the image's EOI
    is the start of another scan.
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return 0
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            end = data.find(b"\xff\xd9", pos + 2)
            return 1 + data.count(b"\xff\xda", pos + 2, end if end >= 0 else len(data))
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return 0


def _coefficient_bytes(image: ImageFile.ImageFile, width: int, height: int) -> int:
    """Return libjpeg's whole-image coefficient buffer: 2 bytes per sample of every component, full size."""
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
    hmax = max(h for _, h, _, _ in layers) or 1
    vmax = max(v for _, _, v, _ in layers) or 1
    total = 0
    for _, h, v, _ in layers:
        blocks_x = math.ceil(math.ceil(width * h / hmax) / 8)
        blocks_y = math.ceil(math.ceil(height * v / vmax) / 8)
        total += blocks_x * blocks_y * 64 * 2
    return total


def decode_cost(image: ImageFile.ImageFile, data: bytes, full_size: tuple[int, int],
                display_px: int = DISPLAY_PX) -> int:
    """Return the bytes decoding ``image`` (opened, JPEG draft already chosen) holds at its peak.

    ``full_size`` is the size in the header; ``image.size`` is what will be decoded. See the module
    docstring for what is counted.
    """
    width, height = image.size
    pixels = width * height
    per_pixel = _MODE_BYTES.get(image.mode, 4)
    cost = pixels * per_pixel
    if image.mode in _ALPHA_MODES:
        cost *= 2
    cost += pixels * per_pixel // 4          # resize's reduce() step, at most a quarter of the picture
    cost += pixels * _CANVAS_BYTES.get(image.format or "", 0)
    shown_w, shown_h = _fit(image.size, display_px)
    cost += shown_w * shown_h * 4 * 2          # the display copy and its RGB conversion
    if image.format in ("JPEG", "MPO") and (image.info.get("progressive") or image.info.get("progression")
                                            or jpeg_scans(data) != 1):
        cost += _coefficient_bytes(image, *full_size)
    return cost


_DECODE_SLOTS = threading.BoundedSemaphore(DECODE_CONCURRENCY)


def give_back_memory() -> None:
    """Ask glibc to return freed heap memory to the system (big pictures leave holes it would keep)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list = []


def _malloc_trim():
    if not _TRIM:
        trim = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                trim = None
        _TRIM.append(trim)
    return _TRIM[0]


def _decode(data: bytes, formats: list[str], max_pixels: int, display_px: int,
            budget: int = DECODE_BUDGET) -> _Decoded:
    """Decode the whole file (so truncation is caught) at the smallest scale the display copy allows.

    Refuses (too_costly) a picture whose decode would hold more than ``budget`` bytes, before
    decoding it; at most ``DECODE_CONCURRENCY`` decodes run at once in the process.
    """
    image = _open_header(data, formats, max_pixels)
    with image:
        width, height = image.size
        fmt = image.format or formats[0]
        try:
            if fmt in ("JPEG", "MPO"):
                # libjpeg scales by 1/2, 1/4, 1/8 while decoding: every byte is still read and
                # checked, but the pixels cost a fraction of a full decode.
                image.draft("RGB", _fit((width, height), display_px))
            if decode_cost(image, data, (width, height), display_px) > budget:
                raise EvidenceError("too_costly", MSG_TOO_COSTLY,
                                    {"megapixels": max(1, round(width * height / 1_000_000))})
            with _DECODE_SLOTS:
                try:
                    image.load()
                    exif = image.getexif()
                    orientation = exif.get(0x0112)
                    display = _to_rgb(_resize(image, _fit(image.size, display_px)))
                    if display is image:  # closing the file below would free its pixels
                        display = image.copy()
                    image.im = None  # free the full-size pixels now, inside the slot
                finally:
                    give_back_memory()
        except EvidenceError:
            raise
        except _DECODE_ERRORS:
            raise EvidenceError("corrupt", MSG_CORRUPT) from None
    if orientation in _TRANSPOSE:
        display = display.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return _Decoded(display, fmt, width, height, exif)


class EvidenceStore:
    """Check uploaded photos and keep them in a file store (``bot.services.blobs``), addressed by SHA-256.

    ``root`` is the local directory used when no ``blobs`` store is given (tests, the default install).
    Every read and write of a photo goes through ``blobs``: local disk or a shared S3-compatible store."""

    def __init__(self, root: Path | None, max_bytes: int, max_pixels: int = 50_000_000, *,
                 local_tz: dt.tzinfo = DEFAULT_TZ, display_px: int = DISPLAY_PX,
                 thumb_px: int = THUMB_PX, decode_budget: int = DECODE_BUDGET,
                 blobs: BlobStore | None = None) -> None:
        if blobs is None:
            if root is None:
                raise ValueError("give the store a root directory or a blob store")
            blobs = LocalStore(Path(root))
        self.blobs = blobs
        self.decode_budget = decode_budget
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.local_tz = local_tz
        self.display_px = display_px
        self.thumb_px = thumb_px

    @classmethod
    def from_settings(cls, settings: Any) -> EvidenceStore:
        """Return the store configured by ``bot.config.Settings`` (evidence_dir, max_upload_mb, tz)."""
        return cls(settings.evidence_dir, settings.max_upload_mb * MB, local_tz=settings.tz,
                   blobs=open_store(getattr(settings, "storage_url", None), settings.evidence_dir))

    @staticmethod
    def original_key(sha256: str) -> str:
        """Return the key of the bytes as received (private, EXIF included)."""
        return f"originals/{sha256[:2]}/{sha256}"

    @staticmethod
    def display_key(sha256: str) -> str:
        """Return the key of the upright display copy without metadata."""
        return f"display/{sha256}.jpg"

    @staticmethod
    def thumb_key(sha256: str) -> str:
        """Return the key of the thumbnail."""
        return f"thumbs/{sha256}.jpg"

    def display(self, sha256: str) -> bytes | None:
        """Return the display copy (JPEG, no metadata) of a stored photo, or None."""
        return self.blobs.get(self.display_key(sha256)) if _is_sha(sha256) else None

    def thumb(self, sha256: str) -> bytes | None:
        """Return the thumbnail (JPEG) of a stored photo, or None."""
        return self.blobs.get(self.thumb_key(sha256)) if _is_sha(sha256) else None

    def original(self, sha256: str) -> bytes | None:
        """Return the bytes as received, or None."""
        return self.blobs.get(self.original_key(sha256)) if _is_sha(sha256) else None

    def forget(self, sha256: str) -> None:
        """Delete a photo's three copies (what removes a photo, through the store like every write)."""
        if _is_sha(sha256):
            for key in (self.original_key(sha256), self.display_key(sha256), self.thumb_key(sha256)):
                self.blobs.delete(key)

    def check_size(self, size_bytes: int) -> None:
        """Refuse a file over ``max_bytes`` (transports may call this before downloading)."""
        if size_bytes > self.max_bytes:
            raise EvidenceError("too_large", MSG_TOO_LARGE,
                                {"size": _megabytes(size_bytes), "limit": _megabytes(self.max_bytes)})

    def ingest(self, data: bytes) -> IngestedPhoto:
        """Verify ``data`` is a usable photo, store its three copies, and describe it.

        Raise ``EvidenceError`` (code not_photo, heif_unsupported, too_large, too_many_pixels,
        too_costly or corrupt) without writing anything. Ingesting the same bytes again rewrites nothing.
        """
        self.check_size(len(data))
        formats = _formats_for(sniff_format(data))
        decoded = _decode(data, formats, self.max_pixels, self.display_px, self.decode_budget)
        sha = hashlib.sha256(data).hexdigest()
        thumb = _resize(decoded.display, _fit(decoded.display.size, self.thumb_px))
        lat, lon = exif_gps(decoded.exif)
        self.blobs.put(self.original_key(sha), data, private=True)
        self.blobs.put(self.display_key(sha), _jpeg_bytes(decoded.display, DISPLAY_QUALITY))
        self.blobs.put(self.thumb_key(sha), _jpeg_bytes(thumb, THUMB_QUALITY))
        return IngestedPhoto(
            sha256=sha, mime=MIME[decoded.fmt], width=decoded.width, height=decoded.height,
            size_bytes=len(data), phash=phash(thumb), taken_at=exif_taken_at(decoded.exif, self.local_tz),
            gps_lat=lat, gps_lon=lon, original_key=self.original_key(sha),
            display_key=self.display_key(sha), thumb_key=self.thumb_key(sha),
        )


def _is_sha(value: str) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _megabytes(size_bytes: int) -> str:
    """Return a size in MB for people: '60', '12.5'."""
    return f"{size_bytes / MB:.1f}".removesuffix(".0")


# --- doubtful-photo flags ----------------------------------------------------------------------

def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres between two points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def flag_label(locale: str | None, flag: dict[str, Any]) -> str:
    """Return a stored flag ({"code", "params"}) as a sentence in ``locale``."""
    code = flag.get("code")
    params = flag.get("params") or {}
    if code == "reused" and params.get("match") == "similar":
        code = "reused_similar"
    msgid = FLAG_LABELS.get(code or "")
    if msgid is None:
        return translate(locale, MSG_FLAG_UNKNOWN)
    try:
        return translate(locale, msgid, **params)
    except (KeyError, IndexError):  # a flag stored by an older version with other params
        return translate(locale, MSG_FLAG_UNKNOWN)


def _upsert_photo(session: Session, photo: IngestedPhoto) -> Photo:
    """Return the Photo row for ``photo.sha256``, inserting it if no one has yet."""
    query = select(Photo).where(Photo.sha256 == photo.sha256)
    found = session.exec(query).first()
    if found is not None:
        return found
    row = Photo(sha256=photo.sha256, mime=photo.mime, width=photo.width, height=photo.height,
                size_bytes=photo.size_bytes, phash=photo.phash, taken_at=photo.taken_at,
                gps_lat=photo.gps_lat, gps_lon=photo.gps_lon)
    try:
        with session.begin_nested():  # another process may insert the same photo meanwhile
            session.add(row)
    except IntegrityError:
        return session.exec(query).one()
    return row


def _similar_photo_ids(session: Session, photo: Photo, max_bits: int) -> dict[int, int]:
    """Return {photo id: Hamming distance} of stored photos within ``max_bits`` of ``photo``.

    Scans (id, phash) pairs only: a county's few hundred thousand photos take milliseconds.
    """
    target = int(photo.phash, 16)
    found: dict[int, int] = {}
    for pid, other in session.exec(select(Photo.id, Photo.phash)):
        distance = (target ^ int(other, 16)).bit_count()
        if distance <= max_bits:
            found[pid] = distance
    found[photo.id] = 0
    return found


def _reuse_flag(session: Session, photo: Photo, report: Report, max_bits: int) -> dict | None:
    """Return a ``reused`` flag naming the earliest other report that used this picture, if any.

    Earlier versions of the same report (a send-back) rightly carry the same photos: not reuse.
    """
    distances = _similar_photo_ids(session, photo, max_bits)
    rows = session.exec(
        select(PhotoUse, Report, Asset)
        .join(Report, col(Report.id) == PhotoUse.report_id)
        .join(Asset, col(Asset.id) == PhotoUse.asset_id)
        .where(col(PhotoUse.photo_id).in_(list(distances)))
        .order_by(col(PhotoUse.id))
    ).all()
    others = [(use, rep, asset) for use, rep, asset in rows if not _same_report(rep, report)]
    if not others:
        return None
    # Prefer the identical file over a look-alike (whose hash may also differ by 0 bits), then the first use.
    use, rep, asset = min(others, key=lambda r: (r[0].photo_id != photo.id, distances[r[0].photo_id], r[0].id))
    return {"code": "reused", "params": {
        "match": "same" if use.photo_id == photo.id else "similar", "distance": distances[use.photo_id],
        "asset": asset.name, "asset_id": asset.id, "project_code": asset.project_code,
        "report_id": rep.id, "period": rep.period}}


def _same_report(a: Report, b: Report) -> bool:
    """Return whether two rows are versions of one report (same asset, form and period)."""
    return a.id == b.id or (a.asset_id, a.form_id, a.period) == (b.asset_id, b.form_id, b.period)


def _old_flag(photo: Photo, period_start: dt.date, old_days: int, tz: dt.tzinfo) -> dict | None:
    """Return an ``old`` flag when the EXIF time is more than ``old_days`` before the period.

    The day the photo was taken is the local day in ``tz``, as ``period_start`` is.
    """
    if photo.taken_at is None:
        return None
    taken = photo.taken_at.astimezone(tz).date()
    days = (period_start - taken).days
    if days <= old_days:
        return None
    return {"code": "old", "params": {"taken": taken.isoformat(), "days": days}}


def _far_flag(photo: Photo, asset: Asset, far_km: float) -> dict | None:
    """Return a ``far`` flag when EXIF GPS is more than ``far_km`` from the asset's location."""
    if None in (photo.gps_lat, photo.gps_lon, asset.latitude, asset.longitude):
        return None
    distance = haversine_km(photo.gps_lat, photo.gps_lon, asset.latitude, asset.longitude)
    if distance <= far_km:
        return None
    shown = f"{distance:.1f}" if distance < 100 else f"{distance:.0f}"
    return {"code": "far", "params": {"distance_km": shown, "limit_km": far_km,
                                      "lat": photo.gps_lat, "lon": photo.gps_lon}}


def record_use(session: Session, *, photo: IngestedPhoto, report: Report, question_key: str,
               period_start: dt.date, asset: Asset | None = None, far_km: float = FAR_KM,
               old_days: int = OLD_DAYS, similar_bits: int = SIMILAR_BITS,
               tz: dt.tzinfo = DEFAULT_TZ) -> PhotoUse:
    """Attach an ingested photo to ``report``'s ``question_key`` and return the flagged PhotoUse.

    Upserts the Photo row by SHA-256 and adds a PhotoUse whose ``flags`` list holds
    {"code": "reused" | "old" | "far", "params": {...}} dicts (see ``flag_label``).
    ``period_start`` is the first day of the reporting period (a local date in ``tz``, the
    county's zone); ``asset`` defaults to the
    report's. Recording the same photo for the same question again returns the existing row.
    Flushes but does not commit: the caller owns the transaction.
    """
    asset = asset or session.get(Asset, report.asset_id)
    row = _upsert_photo(session, photo)
    existing = session.exec(select(PhotoUse).where(
        PhotoUse.photo_id == row.id, PhotoUse.report_id == report.id,
        PhotoUse.question_key == question_key)).first()
    if existing is not None:
        return existing
    candidates: Iterable[dict | None] = (
        _reuse_flag(session, row, report, similar_bits),
        _old_flag(row, period_start, old_days, tz),
        _far_flag(row, asset, far_km),
    )
    use = PhotoUse(photo_id=row.id, report_id=report.id, asset_id=asset.id, question_key=question_key,
                   flags=[flag for flag in candidates if flag])
    session.add(use)
    session.flush()
    return use


def report_photo_flags(session: Session, report_id: int) -> list[dict]:
    """Return every flag of the photos attached to a report, each with its question_key."""
    uses = session.exec(select(PhotoUse).where(PhotoUse.report_id == report_id).order_by(col(PhotoUse.id)))
    return [{**flag, "question_key": use.question_key} for use in uses for flag in use.flags]
