"""The callback crypto against WeCom's published sample (the WXBizMsgCrypt samples' Token "QDG6eK",
EncodingAESKey "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", corp id "wx5823bf96d3bd56c7", and the
sample's URL-verification echostr and encrypted message with their signatures), and what it refuses."""

from __future__ import annotations

import base64

import pytest

from bot.adapters.wecom_crypto import (
    BAD_AES,
    BAD_BASE64,
    BAD_BUFFER,
    BAD_KEY,
    BAD_RECEIVER,
    BAD_SIGNATURE,
    BAD_XML,
    CryptoError,
    MsgCrypt,
    parse_xml,
    pkcs7_pad,
    pkcs7_unpad,
    signature,
)

TOKEN, AES_KEY, CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
# 验证回调URL: GET /cgi-bin/wxpush?msg_signature=…&timestamp=1409659589&nonce=263014780&echostr=…
VERIFY = ("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
          "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
# 对用户回复的消息解密: the sample's POST
MSG_SIG, MSG_TIME, MSG_NONCE = "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
MSG_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUc"
    "allcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5P"
    "l/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")
MSG_BODY = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{MSG_ENCRYPT}]]></Encrypt>"
            "</xml>").encode()


@pytest.fixture
def crypt() -> MsgCrypt:
    return MsgCrypt(TOKEN, AES_KEY, CORP)


def test_the_published_url_verification_sample_decrypts_to_its_echostr(crypt):
    assert signature(TOKEN, VERIFY[1], VERIFY[2], VERIFY[3]) == VERIFY[0]
    assert crypt.verify_url(*VERIFY) == "1616140317555161061"


def test_the_published_message_sample_decrypts_to_its_message(crypt):
    msg = crypt.decrypt_body(MSG_SIG, MSG_TIME, MSG_NONCE, MSG_BODY)
    assert msg == {"ToUserName": CORP, "FromUserName": "mycreate", "CreateTime": "1409659813", "MsgType": "text",
                   "Content": "hello", "MsgId": "4561255354251345929", "AgentID": "218"}


def test_what_we_encrypt_decrypts_with_the_documented_layout(crypt):
    message = "<xml><Content><![CDATA[消息长度按字节计算]]></Content></xml>"
    encrypted = crypt.encrypt(message, random16=b"0123456789abcdef")
    raw = base64.b64decode(encrypted)
    assert len(raw) % 32 == 0  # PKCS#7 to 32-byte blocks
    assert crypt.decrypt(encrypted).decode() == message
    reply = crypt.encrypt_body(message, "1409659813", "1372623149")
    fields = parse_xml(reply)
    assert crypt.decrypt_body(fields["MsgSignature"], "1409659813", "1372623149", reply.encode()) == \
        {"Content": "消息长度按字节计算"}


def test_padding_is_to_32_bytes_and_checked():
    assert pkcs7_pad(b"") == bytes([32]) * 32
    assert pkcs7_pad(b"x" * 31) == b"x" * 31 + b"\x01"
    assert pkcs7_unpad(pkcs7_pad(b"abc")) == b"abc"
    for bad in (b"abc\x00", b"abc\x21", b"ab\x02\x03"):
        with pytest.raises(CryptoError) as caught:
            pkcs7_unpad(bad)
        assert caught.value.code == BAD_BUFFER


def test_it_refuses_forged_truncated_and_misdirected_input(crypt):
    with pytest.raises(CryptoError) as caught:
        crypt.verify_url("0" * 40, *VERIFY[1:])
    assert caught.value.code == BAD_SIGNATURE
    with pytest.raises(CryptoError) as caught:
        crypt.decrypt_body(MSG_SIG, MSG_TIME, "1372623148", MSG_BODY)  # another nonce: the signature fails
    assert caught.value.code == BAD_SIGNATURE
    other = MsgCrypt(TOKEN, AES_KEY, "ww0000000000000000")
    with pytest.raises(CryptoError) as caught:
        other.decrypt_body(MSG_SIG, MSG_TIME, MSG_NONCE, MSG_BODY)  # signed right, for another corp id
    assert caught.value.code == BAD_RECEIVER
    truncated = base64.b64encode(base64.b64decode(MSG_ENCRYPT)[:-7]).decode()
    with pytest.raises(CryptoError) as caught:
        crypt.decrypt(truncated)
    assert caught.value.code == BAD_AES
    short_blocks = base64.b64encode(base64.b64decode(MSG_ENCRYPT)[:-32]).decode()  # whole blocks, padding gone
    with pytest.raises(CryptoError) as caught:
        crypt.decrypt(short_blocks)
    assert caught.value.code in (BAD_BUFFER, BAD_RECEIVER)
    with pytest.raises(CryptoError) as caught:
        crypt.decrypt("not base64 !!")
    assert caught.value.code == BAD_BASE64
    for body in (b"", b"not xml", b"<xml><ToUserName>x</ToUserName></xml>",
                 b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'):
        with pytest.raises(CryptoError) as caught:
            crypt.decrypt_body(MSG_SIG, MSG_TIME, MSG_NONCE, body)
        assert caught.value.code == BAD_XML


def test_a_wrong_encoding_aes_key_is_refused_at_once():
    for key in ("short", "!" * 43):
        with pytest.raises(CryptoError) as caught:
            MsgCrypt(TOKEN, key, CORP)
        assert caught.value.code == BAD_KEY
