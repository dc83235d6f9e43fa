"""A county, its people and assets; the WeCom double; the app; and a driver that posts encrypted
callbacks to the app as WeCom does, then lets the outbox deliver what the app queued."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.adapters.wecom_crypto import MsgCrypt, signature
from bot.config import Settings
from bot.services import outbox, users, wecom_api
from bot.services.channels import build_channels
from bot.web.app import create_app
from tests.factories import make_asset, make_tree
from tests.wecom.double import WeComDouble

TOKEN = "vbToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom's console makes them


@pytest.fixture
def double():
    with WeComDouble() as running:
        yield running


@dataclass
class World:
    settings: Settings
    engine: object
    double: WeComDouble
    client: TestClient
    channels: dict
    crypt: MsgCrypt
    assets: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(7_000_000_000_000_000_001))

    # --- what WeCom posts --------------------------------------------------------------------------

    def post_xml(self, inner: str, *, sign: str | None = None, encrypt: str | None = None) -> object:
        """POST an encrypted callback (its signature as WeCom makes it, unless ``sign`` is given)."""
        timestamp, nonce = str(int(time.time())), "1372623149"
        enc = encrypt if encrypt is not None else self.crypt.encrypt(inner)
        sig = sign if sign is not None else signature(TOKEN, timestamp, nonce, enc)
        body = (f"<xml><ToUserName><![CDATA[{self.double.corp_id}]]></ToUserName>"
                f"<AgentID><![CDATA[{self.double.agent_id}]]></AgentID><Encrypt><![CDATA[{enc}]]></Encrypt></xml>")
        query = urlencode({"msg_signature": sig, "timestamp": timestamp, "nonce": nonce})
        return self.client.post(f"/wecom/callback?{query}", content=body.encode("utf-8"),
                                headers={"Content-Type": "text/xml"})

    def inner(self, userid: str, kind: str, fields: str, *, msg_id: int | None = None, corp: str | None = None,
              created: int | None = None) -> str:
        head = (f"<xml><ToUserName><![CDATA[{corp or self.double.corp_id}]]></ToUserName>"
                f"<FromUserName><![CDATA[{userid}]]></FromUserName><CreateTime>{created or int(time.time())}"
                f"</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{fields}")
        if msg_id is not None:
            head += f"<MsgId>{msg_id}</MsgId>"
        return head + f"<AgentID>{self.double.agent_id}</AgentID></xml>"

    def text(self, userid: str, content: str, **kwargs) -> object:
        return self.post_xml(self.inner(userid, "text", f"<Content><![CDATA[{escape(content)}]]></Content>",
                                        msg_id=next(self._ids), **kwargs))

    def image(self, userid: str, media_id: str) -> object:
        return self.post_xml(self.inner(userid, "image", f"<PicUrl><![CDATA[http://x/{media_id}]]></PicUrl>"
                                        f"<MediaId><![CDATA[{media_id}]]></MediaId>", msg_id=next(self._ids)))

    def location(self, userid: str, lat: float, lon: float) -> object:
        return self.post_xml(self.inner(userid, "location", f"<Location_X>{lat}</Location_X><Location_Y>{lon}"
                                        f"</Location_Y><Scale>15</Scale><Label><![CDATA[村委会]]></Label>",
                                        msg_id=next(self._ids)))

    def press(self, userid: str, card: dict, key: str, selected: list[str] | None = None) -> object:
        """Press a button (or a vote card's submit button with the ``selected`` option ids) of a card sent."""
        template = card["template_card"]
        items = ""
        if selected is not None:
            ids = "".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in selected)
            items = (f"<SelectedItems><SelectedItem><QuestionKey><![CDATA[{template['checkbox']['question_key']}]]>"
                     f"</QuestionKey><OptionIds>{ids}</OptionIds></SelectedItem></SelectedItems>")
        fields = (f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
                  f"<TaskId><![CDATA[{template['task_id']}]]></TaskId><CardType><![CDATA[{template['card_type']}]]>"
                  f"</CardType><ResponseCode><![CDATA[rc-{template['task_id']}-{key}]]></ResponseCode>{items}")
        return self.post_xml(self.inner(userid, "event", fields))

    # --- the outbox --------------------------------------------------------------------------------

    def deliver(self) -> outbox.TickResult:
        return outbox.deliver(self.engine, self.channels)

    def last(self, userid: str) -> dict:
        return self.double.sent_to(userid)[-1]


def card_keys(payload: dict) -> list[str]:
    card = payload["template_card"]
    if card["card_type"] == "vote_interaction":
        return [card["submit_button"]["key"]]
    return [b["key"] for b in card.get("button_list", [])]


def card_text(payload: dict) -> str:
    if payload["msgtype"] == "text":
        return payload["text"]["content"]
    if payload["msgtype"] == "textcard":
        return payload["textcard"]["title"] + "\n" + payload["textcard"]["description"]
    card = payload["template_card"]
    return card["main_title"]["title"] + "\n" + card.get("sub_title_text", "")


@pytest.fixture
def world(engine, tmp_path, double) -> World:
    """桃源县: 新桥村 with two operating assets; a cadre invited (code), a cadre and the township leader whose
    WeCom accounts an officer recorded."""
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789", wecom_corp_id=double.corp_id,
                        wecom_agent_id=double.agent_id, wecom_secret=double.secret, wecom_token=TOKEN,
                        wecom_encoding_aes_key=AES_KEY, wecom_api_root=double.url)
    from bot.services import wecom_people

    with Session(engine) as session:
        tree = make_tree(session)
        assets = {"greenhouse": make_asset(session, tree.village_a1, name="新桥村蔬菜大棚", project_code="XQ-001",
                                           latitude=28.20, longitude=112.90).id,
                  "workshop": make_asset(session, tree.village_a1, name="新桥村扶贫车间", project_code="XQ-002").id}
        people, codes = {}, {}
        for name, unit, role in (("cadre", tree.village_a1, "village_cadre"),
                                 ("cadre2", tree.village_a2, "village_cadre"),
                                 ("leader", tree.township_a, "township_leader")):
            created = users.create_invite(session, None, scope=unit, role=role, name=name)
            people[name], codes[name] = created.user.id, created.code
        session.flush()
        from bot.storage.models import User

        for name, userid in (("cadre2", "WangWu"), ("leader", "ZhaoLiu")):
            wecom_people.record(session, None, session.get(User, people[name]), userid)  # also makes them active
        session.commit()
        units = {"township": tree.township_a.id, "village": tree.village_a1.id, "county": tree.county.id}
    double.members.update({"LiSi", "WangWu", "ZhaoLiu"})
    app = create_app(settings, engine)
    api = wecom_api.api_for(settings)
    api.backoff = 0.001  # the 45009 retries, without the production pauses
    channels = build_channels(settings)
    world = World(settings, engine, double, TestClient(app), channels,
                  MsgCrypt(TOKEN, AES_KEY, double.corp_id), assets, people, codes, units)
    yield world
    for channel in channels.values():
        channel.close()
