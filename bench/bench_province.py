"""A province-size morning of the 25th: real ``villagebot serve`` processes on one PostgreSQL, one killed mid-run.

1. **The province**, generated with PostgreSQL ``COPY`` into a scratch database (``bench_province_<random>`` on
   the server of ``VILLAGEBOT_BENCH_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``, created,
   migrated with ``villagebot db upgrade`` and dropped): counties → townships → villages, a village cadre per
   village (a Telegram account and a signed-in web session each), a township leader per township (Telegram),
   and the assets. Printed: the rows written and rows/s.
2. **The morning**, three times: with one serving process, with three, and with three of which one is killed
   (Telegram in webhook mode, every process answering it; photos in one ``file://`` store the processes share;
   the scheduler and the outbox running in each). Each run has its own cadres. A web cadre signs in (``/api/me``), opens this month's draft of an asset
   (``/f/start``), answers it through the JSON API, uploads the disclosure board's photo through the form
   (``/f/report/…/step``) and submits (``/api/reports/…/submit``); every fifth finds the asset damaged, a
   serious problem that alerts the township leader through the outbox. A Telegram cadre, whose draft of the
   month was answered up to the photos before the morning, sends the board's photo and presses the buttons
   to the end and "submit" (webhook updates built by the Bot API double of tests/fakes, which serves the photo
   download and receives every message). The load generator spreads requests round-robin over the
   processes' ports, as a proxy would, and retries a refused connection on the next port.
3. **The kill**: in the third run, one process is killed with SIGKILL when 40 % of the planned steps are
   done. Afterwards the database is read: every step a client saw acknowledged is stored (none lost), every
   acknowledged submission is submitted, and the Bot API double received no message twice. PASS/FAIL lines;
   a FAIL fails the benchmark.

Figures per run: answers/s (every acknowledged step that changes a draft: an answer, a photo, a skip, a
button), submissions/s, p50/p99 latency per kind of request (as the client saw it, retries included) and
the outbox's delay (from the notice row's commit to its arrival at the Bot API double); then the ratios of
the three-process runs to the one-process run. Every cadre sends its next request as soon as the last one
is answered (no time to think), so the runs measure capacity, and the latencies are those of a saturated
service (mostly queueing: about the cadres at once divided by the answers/s).

Sizes (``VILLAGEBOT_BENCH_SCALE``, or ``python -m bench province --full`` for ``province``):

- ``default`` (``make bench``): 20 counties × 5 townships × 10 villages = 1 000 villages, 20 000 assets;
  150 cadres per run, a quarter of them on Telegram;
- ``province``: 100 counties × 20 townships × 10 villages = 20 000 villages, 1 000 000 assets;
  2 000 cadres per run;
- ``tiny`` (the smoke test): 2 × 2 × 5 villages, 5 assets each, 6 cadres per run.

``BENCH_PROVINCE_CADRES`` overrides the cadres per run (``0``: generate only). Run as a script for options:
``python -m bench.bench_province --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-province-secret-0123456789abcdef"
AUDIT_KEY = "bench-province-audit-key-0123456789abcdef0123456789"
WEBHOOK_SECRET = "bench-province-webhook-secret"
FIRST_TG_ID = 700_000_000
KILL_AT = 0.4  # share of the planned steps done when one of the three processes is killed
SERIOUS_EVERY = 5  # every fifth web cadre finds the asset damaged (a serious problem: an outbox alert)


@dataclasses.dataclass(frozen=True)
class Size:
    counties: int
    townships: int  # per county
    villages: int  # per township
    assets: int  # per village
    cadres: int  # per run (one asset each)
    telegram_share: float = 0.25

    @property
    def village_count(self) -> int:
        return self.counties * self.townships * self.villages


SIZES = {
    "tiny": Size(2, 2, 5, 5, 6),
    "default": Size(20, 5, 10, 20, 150),
    "province": Size(100, 20, 10, 50, 2000),
}


def size_from_env(scale: str | None = None) -> Size:
    """Return the size named by ``scale`` or ``VILLAGEBOT_BENCH_SCALE``, cadres overridden by ``BENCH_PROVINCE_CADRES``."""
    size = SIZES[scale or os.environ.get("VILLAGEBOT_BENCH_SCALE", "default")]
    if os.environ.get("BENCH_PROVINCE_CADRES"):
        size = dataclasses.replace(size, cadres=int(os.environ["BENCH_PROVINCE_CADRES"]))
    return size


# --- the database -------------------------------------------------------------------------------------

@contextmanager
def scratch_database(server_url: str | None = None):
    """Create a fresh database on the server, migrate it with ``villagebot db upgrade``; yield its URL; drop it."""
    import psycopg

    server_url = server_url or os.environ.get("VILLAGEBOT_BENCH_PG_URL") or os.environ.get("BENCH_PG_URL") \
        or DEFAULT_SERVER
    name = f"bench_province_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server_url.rsplit('/', 1)[0]}/{name}"
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEBOT_DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        yield url
    finally:
        if os.environ.get("BENCH_PROVINCE_KEEP"):  # to look at afterwards
            print(f"  kept the database {url}", flush=True)
        else:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psycopg_url(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


@dataclasses.dataclass
class Province:
    """What the generator wrote: ids by position, so the morning can find its cadres without queries."""

    url: str
    size: Size
    salt: str
    village_ids: list[int]
    cadre_of_village: dict[int, int]  # village id -> user id
    first_asset_of_village: dict[int, int]  # village id -> its first asset's id
    rows: int = 0
    seconds: float = 0.0

    def session_token(self, user_id: int) -> str:
        """The web session id (the cookie) of a generated user; only its SHA-256 is stored."""
        return hashlib.sha256(f"{self.salt}/{user_id}".encode()).hexdigest()

    @staticmethod
    def tg_id(user_id: int) -> int:
        return FIRST_TG_ID + user_id


def generate(url: str, size: Size) -> Province:
    """Write the province with COPY: org units, cadres and leaders with Telegram and web sessions, assets."""
    import psycopg

    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    expires = now + dt.timedelta(days=30)
    salt = uuid.uuid4().hex
    units: list[tuple] = []
    townships: list[int] = []
    villages: list[int] = []
    next_id = 1
    for c in range(size.counties):
        county, next_id = next_id, next_id + 1
        county_code = f"43{c + 1:04d}"
        units.append((county, "county", f"第{c + 1}县", county_code + "000000", None, f"/{county}/"))
        for t in range(size.townships):
            township, next_id = next_id, next_id + 1
            township_code = f"{county_code}{t + 1:03d}"
            townships.append(township)
            units.append((township, "township", f"第{t + 1}镇", township_code + "000", county,
                          f"/{county}/{township}/"))
            for v in range(size.villages):
                village, next_id = next_id, next_id + 1
                villages.append(village)
                units.append((village, "village", f"第{v + 1}村", f"{township_code}{v + 1:03d}", township,
                              f"/{county}/{township}/{village}/"))
    province = Province(url, size, salt, villages, {}, {})
    users: list[tuple] = []
    for n, village in enumerate(villages):
        users.append((n + 1, f"村干部{n + 1}", "village_cadre", village, "zh_CN", True, now))
        province.cadre_of_village[village] = n + 1
    for n, township in enumerate(townships):
        user_id = len(villages) + n + 1
        users.append((user_id, f"镇书记{n + 1}", "township_leader", township, "zh_CN", True, now))
    rows = 0
    with psycopg.connect(_psycopg_url(url)) as conn, conn.cursor() as cur:
        rows += _copy(cur, "org_unit (id, level, name, code, parent_id, path)", units)
        rows += _copy(cur, "app_user (id, name, role, org_unit_id, locale, active, created_at)", users)
        rows += _copy(cur, "telegram_identity (id, telegram_user_id, chat_id, user_id, reachable, bound_at)",
                      ((u[0], province.tg_id(u[0]), province.tg_id(u[0]), u[0], True, now) for u in users))
        rows += _copy(cur, "web_session (id, token_hash, user_id, via, user_agent, created_at, last_seen_at, "
                      "expires_at)",
                      ((n + 1, hashlib.sha256(province.session_token(uid).encode()).hexdigest(), uid, "link",
                        "bench", now, now, expires) for n, uid in enumerate(province.cadre_of_village.values())))
        rows += _copy(cur, "asset (id, project_code, name, village_id, asset_type, funds_total, funds_central, "
                      "funds_province, funds_city, funds_county, funds_other, year_completed, latitude, longitude, "
                      "status, public_token, created_at, updated_at)", _assets(province, now))
        for table in ("org_unit", "app_user", "telegram_identity", "web_session", "asset"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    province.rows, province.seconds = rows, time.perf_counter() - started
    return province


def _assets(province: Province, now: dt.datetime):
    asset_id = 0
    for v, village in enumerate(province.village_ids):
        province.first_asset_of_village[village] = asset_id + 1
        for a in range(province.size.assets):
            asset_id += 1
            yield (asset_id, f"P{v + 1:06d}-{a + 1:03d}", f"第{v + 1}村光伏电站{a + 1}号", village, "经营性",
                   "50.00", "40.00", "5.00", "0", "5.00", "0", 2019, 28.2, 112.9, "active", uuid.uuid4().hex, now,
                   now)


def _copy(cur, target: str, rows) -> int:
    count = 0
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def open_telegram_drafts(province: Province, villages: list[int]) -> dict[int, int]:
    """Write this month's draft of each village's first asset, answered up to the photos; return village -> report id.

    The answers are the form engine's (bot/flows Walker) for an asset in good order; the drafts are written with
    COPY and each cadre's Telegram account is pointed at its draft, as after pressing the asset's button.
    """
    import psycopg

    from bot.flows.form import form_for_asset_type
    from bot.flows.walker import Walker
    from bot.services.reports import current_period

    if not villages:
        return {}
    form = form_for_asset_type("经营性")
    walker = Walker(form)
    for _ in range(80):
        question = walker.current()
        if question is None or question.type == "photo":
            break
        walker.answer(question.key, _value(form, question))
    now = dt.datetime.now(dt.UTC)
    answers, position, period = json.dumps(walker.answers), walker.position, current_period()
    rows = [(province.first_asset_of_village[v], form.id, form.version, period, 1, True, "draft", answers, position,
             "[]", "telegram", province.cadre_of_village[v], now, now) for v in villages]
    with psycopg.connect(_psycopg_url(province.url)) as conn, conn.cursor() as cur:
        _copy(cur, "report (asset_id, form_id, form_version, period, version, current, status, answers, position, "
              "flags, channel, created_by, created_at, updated_at)", rows)
        assets = [province.first_asset_of_village[v] for v in villages]
        found = dict(cur.execute("SELECT asset_id, id FROM report WHERE asset_id = ANY(%s) AND current",
                                 (assets,)).fetchall())
        drafts = {v: found[province.first_asset_of_village[v]] for v in villages}
        cur.execute("UPDATE telegram_identity SET active_report_id = d.rid FROM unnest(%s::int[], %s::int[]) "
                    "AS d(uid, rid) WHERE telegram_identity.user_id = d.uid",
                    ([province.cadre_of_village[v] for v in villages], [drafts[v] for v in villages]))
        conn.commit()
    return drafts


# --- serving processes --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path


def start_servers(count: int, db_url: str, botapi, workdir: Path, store: Path) -> list[Server]:
    """Start ``count`` ``villagebot serve`` processes on the database (webhook mode, one shared photo store)."""
    servers = []
    for _ in range(count):
        port = _free_port()
        data = workdir / f"host{port}"
        data.mkdir(parents=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEBOT_DATABASE_URL": db_url,
               "VILLAGEBOT_DATA_DIR": str(data), "VILLAGEBOT_SECRET_KEY": SECRET, "VILLAGEBOT_AUDIT_KEY": AUDIT_KEY,
               "VILLAGEBOT_STORAGE_URL": f"file://{store}", "VILLAGEBOT_TELEGRAM_TOKEN": botapi.token,
               "VILLAGEBOT_TELEGRAM_API_URL": botapi.url, "VILLAGEBOT_TELEGRAM_MODE": "webhook",
               "VILLAGEBOT_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
               "VILLAGEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        log = data.with_suffix(".log")
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port",
                                    str(port)], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        servers.append(Server(process, port, log))
    import httpx

    deadline = time.monotonic() + 120
    for server in servers:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{server.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.process.poll() is not None:
                stop_servers(servers)
                raise RuntimeError(f"server on {server.port} did not get ready:\n{server.log.read_text()[-3000:]}")
            time.sleep(0.3)
    return servers


def cpu_seconds(servers: list[Server]) -> dict[int, float]:
    """The CPU time (user + system) each live server has used so far, by pid (Linux /proc)."""
    used = {}
    for server in servers:
        if server.process.poll() is not None:
            continue
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[server.process.pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()


# --- the morning --------------------------------------------------------------------------------------

class Lost(Exception):
    """No process answered a request after every retry."""


@dataclasses.dataclass
class Morning:
    """One run's clients: the ports they spread over, what they measured and what was acknowledged to them."""

    ports: list[int]
    planned_steps: int
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    answers: int = 0  # acknowledged steps that change a draft
    submissions: int = 0
    steps_done: int = 0
    retries: int = 0
    given_up: int = 0
    acked_answers: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (report id, question key)
    acked_submits: list[int] = dataclasses.field(default_factory=list)
    dead: set[int] = dataclasses.field(default_factory=set)
    _turn: int = 0

    def next_port(self) -> int:
        alive = [p for p in self.ports if p not in self.dead]
        self._turn += 1
        return alive[self._turn % len(alive)]

    async def call(self, client, kind: str, method: str, path: str, **kwargs):
        """Send a request to the next process; on a refused or broken connection retry on the next one."""
        import httpx

        started = time.perf_counter()
        for _attempt in range(8):
            port = self.next_port()
            try:
                response = await client.request(method, f"http://127.0.0.1:{port}{path}", **kwargs)
            except httpx.ConnectError:
                self.dead.add(port)  # as a proxy's health check would take it out
                self.retries += 1
                continue
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                self.retries += 1  # the process died under the request: whether it was saved is not known
                continue
            if response.status_code in (502, 503):
                self.retries += 1
                await asyncio.sleep(0.5)
                continue
            self.latencies[kind].append(time.perf_counter() - started)
            self.steps_done += 1
            return response
        self.given_up += 1
        raise Lost(f"{method} {path}")


# An asset in good order, as most cadres find it (a "no" to intact makes the serious problem of the fifth).
GOOD = {"operating_normally": "yes", "intact": "yes", "disaster_damage": "no", "at_risk": "no",
        "income_distributed": "yes", "farmers_linked": "yes", "effective": "yes", "unauthorised": "no",
        "has_difficulties": "no", "committee_studied": "yes", "damage_note": "围墙倒塌，设备被盗"}


def _value(form, question, serious: bool = False):
    from tests.telegram.crowd import safe_value

    if serious and question.key == "intact":
        return "no"
    return GOOD.get(question.key) or safe_value(form, question)


async def web_cadre(morning: Morning, client, province: Province, village: int, photo: bytes, serious: bool) -> None:
    """Sign in, open the asset's draft, answer every question (the board's photo uploaded), submit."""
    from bot.flows.form import form_for_asset_type
    from bot.flows.walker import Walker

    form = form_for_asset_type("经营性")
    user_id = province.cadre_of_village[village]
    cookie = f"vb_session={province.session_token(user_id)}"
    me = await morning.call(client, "web sign-in", "GET", "/api/me", headers={"Cookie": cookie})
    me.raise_for_status()
    headers = {"Cookie": f"{cookie}; vb_device={me.cookies['vb_device']}", "X-CSRF-Token": me.json()["csrf"]}
    csrf = me.json()["csrf"]
    opened = await morning.call(client, "web open draft", "POST", f"/f/start/{province.first_asset_of_village[village]}",
                                data={"csrf": csrf}, headers=headers)
    report_id = int(re.search(r"/f/report/(\d+)", opened.headers.get("location", "")).group(1))  # type: ignore[union-attr]
    state = (await morning.call(client, "web read draft", "GET", f"/api/reports/{report_id}", headers=headers)).json()
    for _step in range(80):
        question = Walker(form, state["answers"], state["position"]).current()  # as the server's walk stands
        if question is None:
            break
        key = question.key
        if question.type == "photo" and key == "board_photo" and not state["answers"].get(key):
            await morning.call(client, "web photo upload", "POST", f"/f/report/{report_id}/step", headers=headers,
                               data={"csrf": csrf, "key": key, "action": "photo"},
                               files={"photo": ("board.jpg", photo, "image/jpeg")})
            state = (await morning.call(client, "web read draft", "GET", f"/api/reports/{report_id}",
                                        headers=headers)).json()
            if state["answers"].get(key):
                morning.answers += 1
                morning.acked_answers.append((report_id, key))
            continue
        if question.type == "photo":
            body = {"key": key, "action": "done" if state["answers"].get(key) else "skip"}
        elif question.type == "location":
            body = {"key": key, "action": "skip"}
        elif question.type == "multi":
            await morning.call(client, "web answer", "POST", f"/api/reports/{report_id}/answers", headers=headers,
                               json={"key": key, "action": "toggle", "option": question.options[0].key})
            body = {"key": key, "action": "done"}
        else:
            body = {"key": key, "value": _value(form, question, serious)}
        answered = await morning.call(client, "web answer", "POST", f"/api/reports/{report_id}/answers",
                                      headers=headers, json=body)
        if answered.status_code != 200:
            raise RuntimeError(f"answer {body} refused: {answered.status_code} {answered.text[:300]}")
        morning.answers += 1
        if body.get("action", "answer") == "answer":
            morning.acked_answers.append((report_id, key))
        state = answered.json()
    submitted = await morning.call(client, "web submit", "POST", f"/api/reports/{report_id}/submit", headers=headers)
    if submitted.status_code != 200:
        raise RuntimeError(f"submit refused: {submitted.status_code} {submitted.text[:300]}")
    if submitted.status_code == 200:
        morning.submissions += 1
        morning.acked_submits.append(report_id)


async def telegram_cadre(morning: Morning, client, botapi, province: Province, village: int, report_id: int,
                         photo: bytes) -> None:
    """Send the board's photo to the bot and press the buttons to the end and submit (webhook updates)."""
    person = botapi.user(province.tg_id(province.cadre_of_village[village]), f"村干部{village}")
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    steps: list[tuple[str, str | None, str | None]] = [
        ("telegram photo", None, "board_photo"), ("telegram button", f"n:{report_id}:done:board_photo", None),
        ("telegram button", f"n:{report_id}:skip:sign_photo", None),
        ("telegram button", f"v:{report_id}:sign_missing:missing", "sign_missing"),
        ("telegram button", f"n:{report_id}:skip:location", None), ("telegram submit", f"n:{report_id}:confirm", None)]
    for kind, data, key in steps:
        if data is None:
            update = botapi.send_photo(person, photo, deliver=0)
        else:
            update = botapi.press(person, botapi._latest_bot_message_id(person.id), data, deliver=0)
        answered = await morning.call(client, kind, "POST", "/telegram/webhook", headers=headers, json=update)
        if answered.status_code != 200:
            raise RuntimeError(f"webhook answered {answered.status_code}: {answered.text[:300]}")
        if kind == "telegram submit":
            morning.submissions += 1
            morning.acked_submits.append(report_id)
        else:
            morning.answers += 1
            if key:
                morning.acked_answers.append((report_id, key))


WEB_STEPS = 22  # requests of a web cadre (sign-in, open, reads, answers, upload, submit), for the kill's timing
TG_STEPS = 6


async def morning_run(province: Province, servers: list[Server], botapi, web: list[int], telegram: dict[int, int],
                      kill: bool) -> tuple[Morning, float, float | None]:
    """Run every cadre at once (each its own sequence of requests); return (figures, seconds, kill moment)."""
    import httpx

    from tests.services.images import make_jpeg

    morning = Morning([s.port for s in servers], WEB_STEPS * len(web) + TG_STEPS * len(telegram))
    rnd = random.Random(7)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    killed_at: list[float] = []

    async def watch() -> None:
        while morning.steps_done < KILL_AT * morning.planned_steps:
            await asyncio.sleep(0.05)
        victim = servers[1]
        victim.process.send_signal(signal.SIGKILL)
        killed_at.append(time.time())
        print(f"  killed the process on port {victim.port} (SIGKILL) after {morning.steps_done} steps", flush=True)

    async def one(coro) -> None:
        await asyncio.sleep(rnd.random() * 2)  # the cadres start within two seconds
        try:
            await coro
        except Lost:
            pass

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        jobs = [one(web_cadre(morning, client, province, v, make_jpeg(640, 480, seed=n + 1), n % SERIOUS_EVERY == 0))
                for n, v in enumerate(web)]
        jobs += [one(telegram_cadre(morning, client, botapi, province, v, rid, make_jpeg(640, 480, seed=10_000 + n)))
                 for n, (v, rid) in enumerate(telegram.items())]
        rnd.shuffle(jobs)
        watcher = asyncio.create_task(watch()) if kill else None
        started = time.perf_counter()
        await asyncio.gather(*jobs)
        seconds = time.perf_counter() - started
        if watcher is not None and not watcher.done():
            watcher.cancel()
    return morning, seconds, killed_at[0] if killed_at else None


# --- checks and figures -------------------------------------------------------------------------------

def wait_for_outbox(url: str, since: dt.datetime, timeout: float = 60, hanging: float = 10) -> dict[str, int]:
    """Wait until the notices written since ``since`` are sent; return their count by status.

    Rows left ``sending`` by a killed process wait for the outbox's lease (5 minutes): after ``hanging``
    seconds with nothing else to wait for, stop waiting.
    """
    import psycopg

    deadline = time.monotonic() + timeout
    only_hanging_since = None
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        while True:
            counts = dict(conn.execute("SELECT status, count(*) FROM outbox_message WHERE created_at >= %s "
                                       "AND key LIKE 'n|%%' GROUP BY status", (since,)).fetchall())
            waiting = counts.get("pending", 0) + counts.get("claimed", 0)
            if waiting or not counts.get("sending"):
                only_hanging_since = None
            elif only_hanging_since is None:
                only_hanging_since = time.monotonic()
            if (not waiting and not counts.get("sending")) or time.monotonic() > deadline or (
                    only_hanging_since is not None and time.monotonic() - only_hanging_since > hanging):
                return counts
            time.sleep(0.3)


def check(url: str, morning: Morning, botapi, since: dt.datetime, sent_before: int) -> tuple[list[str], list[float]]:
    """Return the PASS/FAIL lines of the run, and the outbox delays (s) of the notices it caused."""
    import psycopg

    lines = []
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        reports = {rid: (status, answers) for rid, status, answers in conn.execute(
            "SELECT id, status, answers FROM report WHERE id = ANY(%s)",
            (list({r for r, _ in morning.acked_answers} | set(morning.acked_submits)),)).fetchall()}
        lost = [(rid, key) for rid, key in morning.acked_answers
                if rid not in reports or key not in (reports[rid][1] or {})]
        unsubmitted = [rid for rid in morning.acked_submits if reports.get(rid, ("?",))[0] != "submitted"]
        notices = conn.execute("SELECT recipient, status, created_at, sent_at FROM outbox_message "
                               "WHERE created_at >= %s AND key LIKE 'n|%%' ORDER BY sent_at", (since,)).fetchall()
    lines.append(_verdict(not lost, f"no answer lost: {len(morning.acked_answers)} acknowledged answers stored"
                          + (f"; {len(lost)} missing, e.g. {lost[:3]}" if lost else "")))
    lines.append(_verdict(not unsubmitted, f"no submission lost: {len(morning.acked_submits)} acknowledged, "
                          f"all submitted" if not unsubmitted else f"{len(unsubmitted)} not submitted: {unsubmitted[:5]}"))
    sends = [c for c in botapi.calls_of("sendMessage") if c.status == 200][sent_before:]
    # The notices go to township leaders, who do nothing else in the morning: every message in their chats
    # is a notice, and one notice is one message (a repeat is the same text to the same chat).
    leaders = {FIRST_TG_ID + int(n[0][1:]) for n in notices if n[0].startswith("u")}
    to_leaders = [c for c in sends if int(c.params.get("chat_id")) in leaders]
    twice = [k for k, n in Counter((c.params.get("chat_id"), c.params.get("text")) for c in to_leaders).items() if n > 1]
    sent = sum(n[1] == "sent" for n in notices)
    hanging = sum(n[1] == "sending" for n in notices)
    lines.append(_verdict(not twice and sent <= len(to_leaders) <= sent + hanging,
                          f"no outbox message twice: {len(to_leaders)} messages to the leaders at the Bot API double "
                          f"for {sent} notices marked sent ({hanging} being sent), {len(twice)} repeated"))
    left = [n for n in notices if n[1] not in ("sent", "sending")]
    lines.append(_verdict(not left, f"every notice delivered: {len(notices)} notices, "
                          + (f"{len(left)} not sent ({Counter(n[1] for n in left)})" if left else "none waiting")))
    if hanging:  # claimed by the killed process between its send and its mark: put back after outbox.LEASE
        lines.append(f"NOTE: {hanging} notices were being sent by the killed process; the outbox retries them "
                     "once its 5-minute lease ends (not waited for here)")
    delays = _delays(notices, sends)
    return lines, delays


def _delays(notices, sends) -> list[float]:
    """Match each chat's sent notices (in order) with the double's messages to that chat (in order)."""
    arrived: dict[int, list[float]] = defaultdict(list)
    for call in sends:
        arrived[int(call.params.get("chat_id"))].append(call.at)
    written: dict[int, list[dt.datetime]] = defaultdict(list)
    for recipient, status, created, _sent in notices:
        if status == "sent" and recipient.startswith("u"):
            written[FIRST_TG_ID + int(recipient[1:])].append(created)
    delays = []
    for chat, moments in written.items():
        for created, at in zip(sorted(moments), sorted(arrived.get(chat, []))):
            delays.append(at - created.timestamp())
    return delays


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}: {text}"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_day(size: Size, *, report=print) -> tuple[list[dict], bool]:
    """Generate the province, run the morning with one process and with three; return (rows, all checks passed)."""
    from tests.fakes.botapi import BotApiDouble

    rows: list[dict] = []
    ok = True
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp, BotApiDouble(strict_chats=False) as botapi:
        province = generate(url, size)
        report(f"  generated {size.village_count:,} villages, {size.village_count * size.assets:,} assets: "
               f"{province.rows:,} rows in {province.seconds:.1f} s", flush=True)
        rows.append({"name": "generate (COPY)", "value": round(province.seconds, 1), "unit": "s",
                     "note": f"{province.rows:,} rows ({size.counties} counties, {size.village_count:,} villages, "
                             f"{size.village_count * size.assets:,} assets)"})
        rows.append({"name": "generate rows/s", "value": round(province.rows / province.seconds), "unit": "rows",
                     "note": "org units, users, Telegram accounts, web sessions, assets"})
        if size.cadres == 0:
            return rows, ok
        villages = list(province.village_ids)
        random.Random(1).shuffle(villages)
        speeds = {}
        for run, (count, kill) in enumerate(RUNS):
            chosen = villages[run * size.cadres:(run + 1) * size.cadres]
            label = f"{count} process{'es' if count > 1 else ''}" + (", one killed" if kill else "")
            run_rows, passed, speeds[label] = _one_run(province, botapi, chosen, count, kill, Path(tmp) / f"run{run}",
                                                       label, report)
            rows += run_rows
            ok = ok and passed
        base = speeds["1 process"]
        for label in ("3 processes", "3 processes, one killed"):
            rows.append({"name": f"{label} / 1: answers/s", "value": round(speeds[label] / base, 2), "unit": "×",
                         "note": f"aim: near 3 with three hosts; here {os.cpu_count()} cores shared by every process, "
                                 "PostgreSQL and the load generator"})
    return rows, ok


RUNS = ((1, False), (3, False), (3, True))  # (serving processes, one killed mid-run)


def _one_run(province: Province, botapi, chosen: list[int], count: int, kill: bool, workdir: Path, label: str,
             report) -> tuple[list[dict], bool, float]:
    """One morning with ``count`` processes for the chosen villages' cadres; return (rows, checks passed, answers/s)."""
    cut = int(len(chosen) * province.size.telegram_share)
    load = os.getloadavg()[0]  # other work on the machine skews the figures: said with them
    drafts = open_telegram_drafts(province, chosen[:cut])
    servers = start_servers(count, province.url, botapi, workdir, workdir.parent / "photos")
    since = dt.datetime.now(dt.UTC)
    sent_before = len([c for c in botapi.calls_of("sendMessage") if c.status == 200])
    cpu_before = cpu_seconds(servers)
    try:
        morning, seconds, killed = asyncio.run(morning_run(province, servers, botapi, chosen[cut:], drafts, kill=kill))
        cpu = sum(seconds - cpu_before[pid] for pid, seconds in cpu_seconds(servers).items())
        counts = wait_for_outbox(province.url, since)
    finally:
        stop_servers(servers)
    lines, delays = check(province.url, morning, botapi, since, sent_before)
    for line in lines:
        report(f"  {label}: {line}", flush=True)
    note = (f"{len(chosen) - cut} web + {cut} Telegram cadres at once, {morning.retries} retries, "
            f"load average {load:.1f} before"
            + (f", a process killed {killed - since.timestamp():.0f} s in" if killed else "")
            + (f", {morning.given_up} requests given up" if morning.given_up else ""))
    speed = morning.answers / seconds
    rows = [{"name": f"{label}: answers/s", "value": round(speed, 1), "unit": "/s",
             "note": f"{morning.answers} answers in {seconds:.1f} s; {note}"},
            {"name": f"{label}: submissions/s", "value": round(morning.submissions / seconds, 1), "unit": "/s",
             "note": f"{morning.submissions} reports; notices {dict(counts)}"},
            {"name": f"{label}: server CPU per answer", "value": round(cpu / morning.answers * 1000, 1), "unit": "ms",
             "note": f"{cpu:.0f} CPU s in the serve processes" + (" (the killed one's left out)" if kill else "")
                     + "; PostgreSQL's not counted"}]
    for kind in sorted(morning.latencies):
        values = morning.latencies[kind]
        rows.append({"name": f"{label}: {kind} p50", "value": round(_pct(values, 50) * 1000), "unit": "ms",
                     "note": f"p99 {_pct(values, 99) * 1000:.0f} ms, {len(values)} requests"})
    rows.append({"name": f"{label}: outbox delay p50", "value": round(_pct(delays, 50) * 1000), "unit": "ms",
                 "note": f"p99 {_pct(delays, 99) * 1000:.0f} ms, max {max(delays, default=float('nan')) * 1000:.0f} ms, "
                         f"{len(delays)} serious-problem alerts to township leaders"})
    return rows, not any(line.startswith("FAIL") for line in lines), speed


def run() -> list[dict]:
    """``python -m bench province``: the default size (or VILLAGEBOT_BENCH_SCALE); a failed check raises."""
    rows, ok = run_day(size_from_env())
    if not ok:
        raise AssertionError("a check of the province morning failed (see the FAIL lines above)")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_province", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the province size (1 M assets, 2 000 cadres a run)")
    parser.add_argument("--scale", choices=sorted(SIZES), help="a named size (default: VILLAGEBOT_BENCH_SCALE "
                                                             "or 'default')")
    parser.add_argument("--cadres", type=int, help="cadres per run (0: generate only)")
    args = parser.parse_args(argv)
    size = size_from_env("province" if args.full else args.scale)
    if args.cadres is not None:
        size = dataclasses.replace(size, cadres=args.cadres)
    rows, ok = run_day(size)
    for row in rows:
        print(f"{row['name']:<45} {row['value']:>10} {row['unit']:<5} {row['note']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
