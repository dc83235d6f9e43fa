"""WeCom (企业微信) callback crypto: the signature and AES-256-CBC scheme of WeCom's WXBizMsgCrypt.

As the WeCom documentation ("加解密方案说明") specifies:

- ``EncodingAESKey`` is 43 characters; ``base64(key + "=")`` gives the 32-byte AES key; the IV is
  the key's first 16 bytes; AES-256-CBC with PKCS#7 padding to a multiple of **32** bytes;
- the plaintext is ``random(16) + msg_len(4 bytes, network order) + msg + receiveid`` where
  ``receiveid`` is the corp id (a self-built app's callbacks);
- ``msg_signature = sha1(sorted([token, timestamp, nonce, encrypt]) joined)`` in hex.

Every failure raises ``CryptoError`` with a code (WXBizMsgCrypt's numbers, for the log); the
callback route turns a bad signature into 403 and the rest into a harmless answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
# WXBizMsgCrypt's error codes (kept for the log).
BAD_SIGNATURE = -40001
BAD_XML = -40002
BAD_KEY = -40004
BAD_RECEIVER = -40005
BAD_AES = -40007
BAD_BUFFER = -40008
BAD_BASE64 = -40010
MAX_XML = 1_000_000  # a callback body larger than this is not WeCom's


class CryptoError(ValueError):
    """A callback that cannot be verified or decrypted; ``code`` is WXBizMsgCrypt's error number."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """Return WeCom's ``msg_signature``: sha1 of the four strings sorted and joined, in hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    """Pad to a multiple of ``block`` bytes (1..block bytes, each the pad's length)."""
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    """Remove PKCS#7 padding (up to ``block`` bytes); raise CryptoError when it is not padding."""
    if not data:
        raise CryptoError(BAD_BUFFER, "empty plaintext")
    amount = data[-1]
    if amount < 1 or amount > block or amount > len(data) or data[-amount:] != bytes([amount]) * amount:
        raise CryptoError(BAD_BUFFER, "bad padding")
    return data[:-amount]


def parse_xml(body: bytes | str) -> dict[str, str]:
    """Return the children of the root element as {tag: text}; CryptoError(BAD_XML) when it is not XML.

    Entities and DTDs are refused (a callback never carries them), so no entity expansion can happen.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_XML or b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise CryptoError(BAD_XML, "not a WeCom XML body")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise CryptoError(BAD_XML, f"unreadable XML: {exc}") from None
    found: dict[str, str] = {}
    for child in root:
        if len(child):  # nested (a card event's SelectedItems): kept as the serialized element
            found[child.tag] = ElementTree.tostring(child, encoding="unicode")
        else:
            found[child.tag] = (child.text or "").strip() if child.tag != "Content" else (child.text or "")
    return found


class MsgCrypt:
    """Verify, decrypt and encrypt WeCom callbacks for one app (token, EncodingAESKey, corp id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise CryptoError(BAD_KEY, "the EncodingAESKey must be 43 characters")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError(BAD_KEY, "the EncodingAESKey is not base64") from None
        if len(self.key) != 32:
            raise CryptoError(BAD_KEY, "the EncodingAESKey does not decode to 32 bytes")
        self.token = token
        self.receive_id = receive_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise CryptoError(BAD_SIGNATURE) unless ``msg_signature`` signs the other three with our token."""
        expected = signature(self.token, timestamp, nonce, encrypt)
        if not msg_signature or not hmac.compare_digest(expected, msg_signature.lower()):
            raise CryptoError(BAD_SIGNATURE, "msg_signature does not match")

    def decrypt(self, encrypt: str) -> bytes:
        """Return the message inside a base64 ciphertext, after checking its length and receive id."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError(BAD_BASE64, "the ciphertext is not base64") from None
        if not data or len(data) % BLOCK:
            raise CryptoError(BAD_AES, "the ciphertext is not whole blocks (truncated?)")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError(BAD_BUFFER, "plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError(BAD_BUFFER, "message length beyond the plaintext")
        message, receiver = plain[20:20 + length], plain[20 + length:]
        if not hmac.compare_digest(receiver, self.receive_id.encode("utf-8")):
            raise CryptoError(BAD_RECEIVER, "the message is for another corp id")
        return message

    def encrypt(self, message: bytes | str, *, random16: bytes | None = None) -> str:
        """Return the base64 ciphertext of ``message`` (``random16``: fixed random bytes, for tests)."""
        body = message.encode("utf-8") if isinstance(message, str) else message
        head = random16 if random16 is not None else os.urandom(16)
        plain = pkcs7_pad(head + struct.pack(">I", len(body)) + body + self.receive_id.encode("utf-8"))
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET verification: check the signature of ``echostr`` and return it decrypted."""
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr).decode("utf-8")

    def decrypt_body(self, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> dict[str, str]:
        """A POSTed callback: read its ``Encrypt``, check the signature, decrypt, and parse the inner XML."""
        outer = parse_xml(body)
        encrypt = outer.get("Encrypt")
        if not encrypt:
            raise CryptoError(BAD_XML, "no Encrypt element")
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        return parse_xml(self.decrypt(encrypt))

    def encrypt_body(self, message: str, timestamp: str, nonce: str) -> str:
        """Return the XML of an encrypted (passive) reply or callback, signed (also what tests post)."""
        encrypt = self.encrypt(message)
        sign = signature(self.token, timestamp, nonce, encrypt)
        return (f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{sign}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")
