"""QR codes for invite links and public disclosure pages."""

from __future__ import annotations

from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_image(data: str, box_size: int = 10):
    """Return a PIL image of the QR code for ``data`` (error correction M, quiet zone 4)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image()


def write_qr_png(data: str, path: Path, box_size: int = 10) -> Path:
    """Write the QR code for ``data`` as a PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    qr_image(data, box_size).save(path, format="PNG")
    return path
