"""Papers kept beside a record (issue 17): the signed contract, the receipt of a payment under a distribution plan.

One road for them: ``keep`` takes the bytes as uploaded and keeps either a photo (through the evidence store's
``ingest``: its type sniffed from the content, its size and decoding cost checked, an upright display copy
without metadata kept) or a PDF (checked here: its header, its end marker, its size; kept private by the blob
store). Anything else is refused with the caller's words. ``read`` gives back what a viewer is shown: the PDF as
kept, a photo's display copy. A paper is named by its SHA-256 and its type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bot.i18n import N_, UserError

PDF_MIME = "application/pdf"
PDF_KEY = "contracts/{}/{}.pdf"  # where PDFs have been kept since the contracts (the key stays for them)
MSG_EMPTY = N_("Choose the file to upload.")
MSG_TOO_LARGE = N_("The file is {size} MB; at most {limit} MB may be uploaded.")


class DocumentError(UserError, ValueError):
    """A paper refused for a reason the uploader can fix."""


@dataclass(frozen=True)
class Kept:
    sha256: str
    mime: str
    size_bytes: int


def pdf_key(sha256: str) -> str:
    """Where a PDF is kept in the blob store (private)."""
    return PDF_KEY.format(sha256[:2], sha256)


def check_pdf(data: bytes, max_bytes: int, not_a_document: str) -> None:
    """Refuse what is not a whole PDF of at most ``max_bytes``: its header and its end marker must be there."""
    if len(data) > max_bytes:
        raise DocumentError(MSG_TOO_LARGE, size=f"{len(data) / 1048576:.1f}", limit=f"{max_bytes / 1048576:.0f}")
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
        raise DocumentError(not_a_document)


def keep(store: Any, data: bytes, *, not_a_document: str) -> Kept:
    """Keep a photo or a PDF (``store``: the evidence store); ``not_a_document`` is the msgid said of anything
    else. Raises ``DocumentError`` (nothing written) when the file is empty, too large, fake or not readable."""
    from bot.services.evidence import EvidenceError, sniff_format

    if not data:
        raise DocumentError(MSG_EMPTY)
    if sniff_format(data) is None:
        check_pdf(data, store.max_bytes, not_a_document)
        sha = hashlib.sha256(data).hexdigest()
        store.blobs.put(pdf_key(sha), data, private=True)
        return Kept(sha, PDF_MIME, len(data))
    try:
        photo = store.ingest(data)
    except EvidenceError as exc:
        raise DocumentError(exc.msgid, **exc.params) from None
    return Kept(photo.sha256, photo.mime, len(data))


def read(store: Any, sha256: str, mime: str | None = None) -> tuple[bytes, str] | None:
    """The bytes to show of a kept paper and their type: the PDF, or the photo's display copy (JPEG). Without
    ``mime``, a PDF kept under that hash is tried first."""
    if mime in (None, PDF_MIME):
        data = store.blobs.get(pdf_key(sha256)) if len(sha256) == 64 else None
        if data is not None:
            return data, PDF_MIME
        if mime == PDF_MIME:
            return None
    shown = store.display(sha256)
    return (shown, "image/jpeg") if shown is not None else None
