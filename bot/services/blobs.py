"""Where files live: the evidence photos (originals, display copies, thumbnails) and duty attachments.

One small interface, two kinds of store, chosen by ``VILLAGEBOT_STORAGE_URL``:

- unset or ``file:///path``: a directory on local disk (default: the data directory's ``evidence``);
- ``s3://ACCESS_KEY:SECRET_KEY@host:port/bucket/prefix``: any S3-compatible object store (MinIO, a cloud's
  compatible service); ``?secure=0`` for plain HTTP inside a private network, ``&region=`` when the
  service needs one. Several hosts then share the photos.

Keys are relative paths such as ``originals/ab/<sha256>`` or ``thumbs/<sha256>.jpg``; every file is
written once under a content address, so a key's bytes never change and writing them again is a no-op.
``copy_all`` moves one store into another and checks each file's SHA-256 (``villagebot storage migrate``).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from bot.i18n import N_, UserError

MSG_BAD_URL = N_("VILLAGEBOT_STORAGE_URL is not understood ({url}): use file:///path or "
                 "s3://KEY:SECRET@host:port/bucket")
MSG_UNREACHABLE = N_("The photo store cannot be reached: {reason}")


class StoreError(UserError):
    """The store is misconfigured or unreachable."""


class BlobStore(Protocol):
    """What the product needs of a store of files."""

    url: str

    def put(self, key: str, data: bytes, *, private: bool = False) -> None:
        """Write ``data`` under ``key`` unless it is already there (keys are content addressed)."""

    def get(self, key: str) -> bytes | None:
        """Return the bytes under ``key``, or None when there is no such file."""

    def exists(self, key: str) -> bool:
        """Say whether ``key`` holds a file."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing when it is absent)."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield every key under ``prefix``."""

    def check(self) -> None:
        """Raise StoreError when the store cannot be used now (readiness)."""


def _safe(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a store key: {key!r}")
    return key


class LocalStore:
    """Files in a directory; written atomically, private files mode 0600."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = self.root.resolve().as_uri()

    def path(self, key: str) -> Path:
        return self.root / _safe(key)

    def put(self, key: str, data: bytes, *, private: bool = False) -> None:
        path = self.path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o600 if private else 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(MSG_UNREACHABLE, reason=str(exc)) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(MSG_UNREACHABLE, reason=f"{self.root} is not writable")


@dataclass(frozen=True)
class S3Location:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str
    secure: bool
    region: str | None


def parse_s3(url: str) -> S3Location:
    """Read ``s3://KEY:SECRET@host:port/bucket/prefix?secure=0&region=r``."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if parts.scheme != "s3" or not parts.hostname or not path:
        raise StoreError(MSG_BAD_URL, url=_redacted(url))
    bucket, _, prefix = path.partition("/")
    query = parse_qs(parts.query)
    secure = (query.get("secure", ["1"])[0]).lower() not in ("0", "false", "no")
    endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
    return S3Location(endpoint, unquote(parts.username or ""), unquote(parts.password or ""), bucket,
                      prefix.strip("/"), secure, query.get("region", [None])[0])


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class S3Store:
    """Files in a bucket of an S3-compatible object store (through the MinIO client)."""

    def __init__(self, url: str) -> None:
        from minio import Minio

        self.location = parse_s3(url)
        self.url = _redacted(url)
        loc = self.location
        self.client = Minio(loc.endpoint, access_key=loc.access_key or None, secret_key=loc.secret_key or None,
                            secure=loc.secure, region=loc.region)
        self._bucket_ready = False

    def _name(self, key: str) -> str:
        key = _safe(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _ensure_bucket(self) -> None:
        if not self._bucket_ready:
            if not self.client.bucket_exists(self.location.bucket):
                self.client.make_bucket(self.location.bucket)
            self._bucket_ready = True

    def put(self, key: str, data: bytes, *, private: bool = False) -> None:
        self._ensure_bucket()
        if self.exists(key):
            return
        content_type = "image/jpeg" if key.endswith(".jpg") else "application/octet-stream"
        self.client.put_object(self.location.bucket, self._name(key), io.BytesIO(data), len(data),
                               content_type=content_type)

    def get(self, key: str) -> bytes | None:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.location.bucket, self._name(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.location.bucket, self._name(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.remove_object(self.location.bucket, self._name(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = f"{self.location.prefix}/" if self.location.prefix else ""
        if not self.client.bucket_exists(self.location.bucket):
            return
        for obj in self.client.list_objects(self.location.bucket, prefix=base + prefix, recursive=True):
            name = obj.object_name or ""
            yield name[len(base):]

    def check(self) -> None:
        try:
            self._ensure_bucket()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the store means not ready
            raise StoreError(MSG_UNREACHABLE, reason=f"{type(exc).__name__}: {exc}"[:200]) from None


def open_store(url: str | None, default_root: Path) -> BlobStore:
    """Return the store ``url`` names (None or empty: ``default_root`` on local disk)."""
    if not url:
        return LocalStore(default_root)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalStore(Path(unquote(urlsplit(url).path)))
    if scheme == "s3":
        return S3Store(url)
    raise StoreError(MSG_BAD_URL, url=_redacted(url))


@dataclass
class Copied:
    """What ``copy_all`` did: files copied, already there, and those whose hash did not match."""

    copied: int = 0
    present: int = 0
    mismatched: list[str] | None = None
    bytes: int = 0


def content_hash_ok(key: str, data: bytes) -> bool:
    """An original is stored under its own SHA-256; other files are checked against their source."""
    name = key.rsplit("/", 1)[-1]
    if key.startswith("originals/") and len(name) == 64:
        return hashlib.sha256(data).hexdigest() == name
    return True


def copy_all(source: BlobStore, target: BlobStore, *, progress=None) -> Copied:
    """Copy every file of ``source`` into ``target`` and read each back to compare SHA-256 hashes."""
    result = Copied(mismatched=[])
    assert result.mismatched is not None
    for key in source.keys():
        data = source.get(key)
        if data is None:
            continue
        if target.exists(key):
            result.present += 1
        else:
            target.put(key, data, private=key.startswith("originals/"))
            result.copied += 1
        back = target.get(key)
        if back is None or hashlib.sha256(back).digest() != hashlib.sha256(data).digest() \
                or not content_hash_ok(key, back):
            result.mismatched.append(key)
        result.bytes += len(data)
        if progress is not None:
            progress(key)
    return result
