#!/usr/bin/env python3
"""The Presence hub of the interoperability matrix (tests/interop/README.md).

A Presence cluster made of one hub (this process) and N instance "fronts". A front is a
small app on a third-party SockJS server library (sockjs-node, aiohttp-sockjs): the library
does all the SockJS work (framing, heartbeats, transports, escaping, session timeouts) its
own way, and the front only relays. The hub holds all the Presence state of
docs/protocol.md section 2 (who is online, tabs and focus, page and data, kept signals,
watchers, unique ids), so that state survives an instance drained or killed (section 4),
as the reference server's shared state does (src/server/state/).

Hub and fronts speak line-delimited JSON over one TCP connection per front, on 127.0.0.1:

    front -> hub  {"op":"hello","server":S,"port":P}      listening, serving /presence
                  {"op":"open","sid":N,"transport":T}      the library opened a session
                  {"op":"msg","sid":N,"text":M}            one client message of a session
                  {"op":"closed","sid":N}                  the library says it ended
                  {"op":"stats","requests":{PATH:COUNT}}   receiving requests served so far
    hub -> front  {"op":"send","sid":N,"msgs":[M,...]}     send each with the library's send
                  {"op":"close","sid":N,"code":C,"reason":R}   the library's close
                  {"op":"exit"}                            stop listening and exit

The hub spawns the fronts itself (the same hub runs any front: its command is given on the
command line) and serves the directory of section 4 on 127.0.0.1: /locate, /healthz and the
admin routes drills use (/admin/instances, /admin/scale-in, /admin/scale-out, /admin/kill,
which sends a real SIGKILL), plus /admin/stats (sessions per transport, receiving requests)
for the matrix's own checks. Standard library only; every process it starts ends with it,
and it ends by itself after --max-lifetime.
"""

import argparse
import asyncio
import hashlib
import json
import random
import shlex
import signal
import sys
import time
from collections import deque
from urllib.parse import parse_qs, urlsplit

QUEUE_BOUND = 1000  # kept signals per visitor before `rejected` / `queue_full`
UNIQUE_TIMEOUT_MS = 300_000  # connect_unique ids expire after 5 min without `extend`
MAX_DATA_KEYS = 64
MAX_ID_CHARS = 128
PAGE_FIELDS = ("url", "title", "referrer", "browser")
LINE_LIMIT = 64 * 1024 * 1024  # a control line: a session's batch, a replay of kept signals
REPLACED = (4004, "replaced")
GO_AWAY = (3000, "Go away!")
UNIQUE_EXPIRED = (4001, "unique connection expired")
UNIQUE_IN_USE = (4002, "unique id in use")


def encode(message):
    """A message object as the text the library frames (it escapes it its own way)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def now_ms():
    return int(time.time() * 1000)


def log(*parts):
    print("hub:", *parts, file=sys.stderr, flush=True)


class BadRequest(Exception):
    """A known message type with missing or mistyped fields (`error` `bad_request`)."""


class BadData(Exception):
    """`data` that is not flat strings and numbers, or too many keys (`bad_data`)."""


def field(message, name, kind=str, optional=False):
    """One field of a client message, type-checked as the reference server's serde types are."""
    value = message.get(name)
    if value is None and optional:
        return None
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise BadRequest(f"bad {message.get('type')} message: field {name!r} missing or mistyped")
    return value


def check_data(data):
    if len(data) > MAX_DATA_KEYS:
        raise BadData(f"data has {len(data)} keys, at most {MAX_DATA_KEYS} are allowed")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadData(f"data key {key!r} holds {type(value).__name__}; only strings and numbers are allowed")


def read_page(message):
    page = message.get("page")
    if page is None:
        return None
    if not isinstance(page, dict):
        raise BadRequest("bad presence message: page is not an object")
    out = {}
    for name in PAGE_FIELDS:
        value = page.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise BadRequest(f"bad presence message: page.{name} is not a string")
            out[name] = value
    return out


def valid_id(value):
    return 0 < len(value) <= MAX_ID_CHARS


def valid_group(value):
    return value != "" and all("0" <= c <= "9" for c in value)


class Tab:
    def __init__(self, tab, session):
        self.tab = tab
        self.session = session


class Visitor:
    """One visitor of one group, as src/server/state/mod.rs keeps it."""

    def __init__(self):
        self.tabs = []  # open tabs, in connect order: the last is the most recent
        self.focused = None  # the focused tab's Session, whenever tabs is not empty
        self.page = None
        self.data = {}
        self.kept = deque()  # (agent, id, encoded message), oldest first, until signal_ack
        self.watchers = []  # agent Sessions

    def focused_tab(self):
        return next((t for t in self.tabs if t.session is self.focused), None)

    def empty(self):
        return not (self.tabs or self.kept or self.watchers or self.page is not None or self.data)

    def snapshot(self, visitor):
        focused = self.focused_tab()
        return {
            "type": "presence",
            "visitor": visitor,
            "online": bool(self.tabs),
            "focus_tab": focused.tab if focused else None,
            "page": self.page,
            "data": self.data,
            "at_ms": now_ms(),
        }

    def notify_watchers(self, visitor):
        if self.watchers:
            text = encode(self.snapshot(visitor))
            for watcher in self.watchers:
                watcher.push(text)


class Session:
    """One SockJS session of one front, whatever transport the library carries it on."""

    def __init__(self, hub, front, sid, transport):
        self.hub, self.front, self.sid, self.transport = hub, front, sid, transport
        self.open = True
        self.role = None  # None, "visitor" or "agent"
        self.key = None  # (group, visitor id) of a visitor
        self.tab = None
        self.unique = False
        self.reported = False  # a presence since connect: the next one merges
        self.unique_timer = None
        self.group = None  # an agent's group, name and watched visitor ids
        self.agent = None
        self.watching = set()
        self.outbox = []

    def push(self, text):
        if self.open:
            self.outbox.append(text)
            self.hub.dirty.add(self)

    def flush(self):
        if self.outbox:
            if self.hub.args.trace:
                log(f"{self.front.name}/{self.sid} -> {self.outbox!r}")
            self.front.command({"op": "send", "sid": self.sid, "msgs": self.outbox})
            self.outbox = []

    def close(self, close):
        """Closes with the library's close, after what was pushed; leaves the state at once
        (as the reference server does, before its close frame goes out)."""
        if not self.open:
            return
        self.flush()
        self.front.command({"op": "close", "sid": self.sid, "code": close[0], "reason": close[1]})
        self.end()

    def end(self):
        """Leaves the shared state: the tab closes, a unique id is released, watches end."""
        if not self.open:
            return
        self.open = False
        self.outbox = []
        self.hub.dirty.discard(self)
        self.front.sessions.pop(self.sid, None)
        if self.unique_timer:
            self.unique_timer.cancel()
        if self.role == "visitor":
            self.hub.detach(self.key, self)
            if self.unique:
                self.hub.uniques.discard(self.key[1])
        elif self.role == "agent":
            for visitor in self.watching:
                self.hub.unwatch((self.group, visitor), self)
        self.role = None


class Front:
    """One instance: a front process and its sessions."""

    def __init__(self, name):
        self.name = name
        self.process = None
        self.port = None
        self.writer = None
        self.state = "starting"  # starting, live, draining, gone
        self.sessions = {}
        self.requests = {}  # receiving requests it reported, by transport path
        self.hello = asyncio.get_running_loop().create_future()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/presence"

    def info(self):
        return {"server": self.name, "url": self.url, "state": self.state}

    def command(self, message):
        if self.writer and not self.writer.is_closing():
            self.writer.write((json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode())


class Hub:
    def __init__(self, args):
        self.args = args
        self.front_command = shlex.split(args.front)
        self.fronts = []  # in start order, while they serve
        self.processes = []  # every front process started, to reap them all at the end
        self.started = 0
        self.visitors = {}
        self.uniques = set()
        self.dirty = set()
        self.control_port = None
        self.opened = {}  # sessions opened, by transport
        self.gone_requests = {}  # receiving requests of fronts that are gone
        self.handlers = {
            "connect": self.on_connect,
            "connect_unique": self.on_connect_unique,
            "extend": self.on_extend,
            "presence": self.on_presence,
            "focus": self.on_focus,
            "signal_ack": self.on_signal_ack,
            "agent_connect": self.on_agent_connect,
            "lookup": self.on_lookup,
            "unwatch": self.on_unwatch,
            "signal": self.on_signal,
            "invoke": self.on_invoke,
        }

    # ---- fronts -------------------------------------------------------------------------

    async def start_front(self):
        self.started += 1
        front = Front(f"s{self.started}")
        self.fronts.append(front)
        command = self.front_command + ["--hub", f"127.0.0.1:{self.control_port}", "--server", front.name]
        front.process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL)
        self.processes.append(front.process)
        try:
            await asyncio.wait_for(asyncio.shield(front.hello), 20)
        except asyncio.TimeoutError:
            self.stop_front(front)
            raise RuntimeError(f"instance {front.name} did not start within 20 s")
        log(f"instance {front.name} {front.url} pid {front.process.pid}")
        return front

    async def on_control(self, reader, writer):
        """One front's control connection: its lines until it goes away."""
        front = None
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                message = json.loads(line)
                if message.get("op") == "hello":
                    front = next((f for f in self.fronts if f.name == message.get("server")), None)
                    if front is None or front.state != "starting":
                        break
                    front.writer, front.port, front.state = writer, message["port"], "live"
                    front.hello.set_result(True)
                elif front is not None and front.state != "gone":
                    self.on_front_message(front, message)
                self.flush()
        except (ConnectionError, ValueError) as err:
            log(f"control connection of {front.name if front else '?'}: {err}")
        finally:
            if front is not None:
                self.stop_front(front)
            writer.close()

    def on_front_message(self, front, message):
        op = message.get("op")
        if self.args.trace and op in ("open", "closed"):
            log(f"{front.name}/{message.get('sid')} {op} {message.get('transport', '')}")
        if op == "open":
            transport = message.get("transport", "?")
            self.opened[transport] = self.opened.get(transport, 0) + 1
            session = Session(self, front, message["sid"], transport)
            front.sessions[session.sid] = session
            if front.state == "draining":
                session.close(GO_AWAY)  # new sessions on a draining instance leave at once
        elif op == "msg":
            session = front.sessions.get(message["sid"])
            if self.args.trace:
                log(f"{front.name}/{message['sid']} <- {message['text']!r}")
            if session is not None:
                self.dispatch(session, message["text"])
        elif op == "closed":
            session = front.sessions.get(message["sid"])
            if session is not None:
                session.end()
        elif op == "stats":
            front.requests = message.get("requests", {})

    def stop_front(self, front):
        """The instance is gone (killed, exited, or its control connection broke): every
        session it had ends now, so its visitors are offline at once."""
        if front.state == "gone":
            return
        front.state = "gone"
        for path, count in front.requests.items():
            self.gone_requests[path] = self.gone_requests.get(path, 0) + count
        front.requests = {}
        if front.process and front.process.returncode is None:
            try:
                front.process.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        for session in list(front.sessions.values()):
            session.end()
        if front in self.fronts:
            self.fronts.remove(front)
        self.flush()
        log(f"instance {front.name} gone")

    def drain(self, front):
        """Scale-in: /locate stops naming it; each session gets `draining` then close 3000 at
        a random moment of the drain window; then the front exits."""
        front.state = "draining"
        window = self.args.drain_window

        def leave(session):
            if session.open:
                session.push(encode({"type": "draining", "retry_after_ms": 0}))
                session.close(GO_AWAY)
                self.flush()

        loop = asyncio.get_running_loop()
        for session in list(front.sessions.values()):
            loop.call_later(random.uniform(0, window), leave, session)

        async def finish():
            await asyncio.sleep(window + self.args.drain_grace)
            front.command({"op": "exit"})
            try:
                await asyncio.wait_for(front.process.wait(), 3)
            except asyncio.TimeoutError:
                pass
            self.stop_front(front)

        asyncio.ensure_future(finish())

    def pick(self, name):
        """The instance NAME (live or draining), or the newest live one."""
        if name is not None:
            return next((f for f in self.fronts if f.name == name and f.state in ("live", "draining")), None)
        live = [f for f in self.fronts if f.state == "live"]
        return live[-1] if live else None

    def locate(self, visitor):
        """Rendezvous hashing over the live instances: the same visitor gets the same
        instance while it is there, and only a leaving instance's visitors move."""
        live = [f for f in self.fronts if f.state == "live"]
        if not live:
            return None
        score = lambda f: hashlib.sha1(f"{f.name}\0{visitor}".encode("utf-8", "surrogatepass")).digest()
        return max(live, key=score)

    def flush(self):
        while self.dirty:
            self.dirty.pop().flush()

    # ---- messages (docs/protocol.md section 2) ------------------------------------------

    def dispatch(self, session, text):
        """Handles one client message; a message never ends its session by itself."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in ("draining", "error"):
            return  # notices a client may send; nothing to do
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return self.error(session, "unknown_type", f"unknown message type {kind!r}")
        try:
            handler(session, message)
        except BadRequest as err:
            self.error(session, "bad_request", str(err))
        except BadData as err:
            self.error(session, "bad_data", str(err))

    def error(self, session, code, text):
        session.push(encode({"type": "error", "code": code, "message": text}))

    def may_connect(self, session, group, tab):
        if session.role is not None:
            self.error(session, "bad_request", "this session is connected already")
            return False
        if not valid_group(group) or not valid_id(tab):
            self.error(session, "bad_request", "group must be digits, tab 1 to 128 characters")
            return False
        return True

    def become_visitor(self, session, key, tab, unique, first):
        replay = self.attach(key, tab, session)
        session.push(encode(first))
        for text in replay:
            session.push(text)
        session.role, session.key, session.tab, session.unique = "visitor", key, tab, unique
        session.reported = False

    def on_connect(self, session, message):
        group, visitor, tab = field(message, "group"), field(message, "visitor"), field(message, "tab")
        if not self.may_connect(session, group, tab):
            return
        if not valid_id(visitor):
            return self.error(session, "bad_request", "visitor must be 1 to 128 characters")
        first = {"type": "connected", "visitor": visitor, "server": session.front.name, "focus": True}
        self.become_visitor(session, (group, visitor), tab, False, first)

    def on_connect_unique(self, session, message):
        group, tab = field(message, "group"), field(message, "tab")
        if not self.may_connect(session, group, tab):
            return
        free = len(self.uniques) < 1_000_000
        visitor = None
        while free and visitor is None:
            candidate = f"{random.randrange(1_000_000):06d}"
            if candidate not in self.uniques:
                visitor = candidate
        if visitor is None:
            return session.close(UNIQUE_IN_USE)
        self.uniques.add(visitor)
        self.arm_unique(session)
        first = {"type": "unique", "visitor": visitor, "expires_in_ms": UNIQUE_TIMEOUT_MS}
        self.become_visitor(session, (group, visitor), tab, True, first)

    def arm_unique(self, session):
        if session.unique_timer:
            session.unique_timer.cancel()

        def expire():
            if session.open:
                session.push(encode({"type": "expired"}))
                session.close(UNIQUE_EXPIRED)
                self.flush()

        session.unique_timer = asyncio.get_running_loop().call_later(UNIQUE_TIMEOUT_MS / 1000, expire)

    def on_extend(self, session, message):
        if session.role is None:
            return self.error(session, "not_connected", "send connect_unique first")
        if not (session.role == "visitor" and session.unique):
            return self.error(session, "not_unique", "not a unique connection")
        self.arm_unique(session)
        session.push(encode({"type": "extended", "expires_in_ms": UNIQUE_TIMEOUT_MS}))

    def on_presence(self, session, message):
        seq = field(message, "seq", int)
        data = message.get("data")
        if data is not None and not isinstance(data, dict):
            raise BadRequest("bad presence message: data is not an object")
        page = read_page(message)
        if session.role != "visitor":
            return self.error(session, "not_connected", "send connect first")
        if data is not None:
            check_data(data)
        visitor = self.visitors.setdefault(session.key, Visitor())
        if not session.reported:  # the first presence of a connection replaces
            visitor.page, visitor.data = page, dict(data or {})
        else:  # later ones merge data key by key
            if data:
                added = sum(1 for name in data if name not in visitor.data)
                if len(visitor.data) + added > MAX_DATA_KEYS:
                    raise BadData(f"data would have {len(visitor.data) + added} keys")
                visitor.data.update(data)
            if page is not None:
                visitor.page = page
        session.reported = True
        visitor.notify_watchers(session.key[1])
        session.push(encode({"type": "presence_ack", "seq": seq}))

    def on_focus(self, session, message):
        if session.role != "visitor":
            return self.error(session, "not_connected", "send connect first")
        visitor = self.visitors.get(session.key)
        if visitor and visitor.focused is not session and any(t.session is session for t in visitor.tabs):
            lost = visitor.focused_tab()
            if lost:
                lost.session.push(encode({"type": "blur", "tab": lost.tab}))
            visitor.focused = session
            visitor.notify_watchers(session.key[1])
        session.push(encode({"type": "focused", "tab": session.tab}))

    def on_signal_ack(self, session, message):
        id_, agent = field(message, "id"), field(message, "agent")
        if session.role != "visitor":
            return self.error(session, "not_connected", "send connect first")
        visitor = self.visitors.get(session.key)
        if visitor:
            visitor.kept = deque(k for k in visitor.kept if k[0] != agent or k[1] != id_)
            self.forget_if_empty(session.key)

    def on_agent_connect(self, session, message):
        group, agent = field(message, "group"), field(message, "agent")
        if session.role is not None:
            return self.error(session, "bad_request", "this session is connected already")
        if not valid_group(group) or not valid_id(agent):
            return self.error(session, "bad_request", "group must be digits, agent 1 to 128 characters")
        session.push(encode({"type": "agent_connected", "agent": agent, "server": session.front.name}))
        session.role, session.group, session.agent = "agent", group, agent

    def on_lookup(self, session, message):
        visitor_id = field(message, "visitor")
        if session.role != "agent":
            return self.error(session, "not_connected", "send agent_connect first")
        if not valid_id(visitor_id):
            return self.error(session, "bad_request", "visitor must be 1 to 128 characters")
        visitor = self.visitors.setdefault((session.group, visitor_id), Visitor())
        if session not in visitor.watchers:
            visitor.watchers.append(session)
        session.watching.add(visitor_id)
        session.push(encode(visitor.snapshot(visitor_id)))

    def on_unwatch(self, session, message):
        visitor_id = field(message, "visitor")
        if session.role != "agent":
            return self.error(session, "not_connected", "send agent_connect first")
        if visitor_id in session.watching:
            session.watching.discard(visitor_id)
            self.unwatch((session.group, visitor_id), session)

    def on_signal(self, session, message):
        visitor, id_ = field(message, "visitor"), field(message, "id")
        sent = {"type": "signal", "id": id_, "agent": None}
        if message.get("data") is not None:
            sent["data"] = message["data"]
        self.send_to_visitor(session, visitor, id_, sent, "signal_status")

    def on_invoke(self, session, message):
        visitor, id_, action = field(message, "visitor"), field(message, "id"), field(message, "action")
        sent = {"type": "invoke", "id": id_, "agent": None, "action": action}
        if message.get("args") is not None:
            sent["args"] = message["args"]
        self.send_to_visitor(session, visitor, id_, sent, "invoke_status")

    def send_to_visitor(self, session, visitor_id, id_, sent, status_type):
        """Delivered to the focused tab, or queued while offline; kept until signal_ack,
        replayed on every connect meanwhile (at-least-once)."""
        if session.role != "agent":
            return self.error(session, "not_connected", "send agent_connect first")
        if not valid_id(visitor_id) or not id_:
            return self.error(session, "bad_request", "visitor must be 1 to 128 characters, id not empty")
        key = (session.group, visitor_id)
        visitor = self.visitors.setdefault(key, Visitor())
        status = {"type": status_type, "id": id_}
        if len(visitor.kept) >= QUEUE_BOUND:
            status.update(status="rejected", reason="queue_full")
            self.forget_if_empty(key)
        else:
            sent["agent"] = session.agent
            text = encode(sent)
            focused = visitor.focused_tab()
            status["status"] = "delivered" if focused else "queued"
            if focused:
                focused.session.push(text)
            visitor.kept.append((session.agent, id_, text))
        session.push(encode(status))

    # ---- the shared state ---------------------------------------------------------------

    def attach(self, key, tab, session):
        """A tab connects and takes focus; answers the kept signals to replay to it."""
        visitor = self.visitors.setdefault(key, Visitor())
        replaced = next((t for t in visitor.tabs if t.tab == tab), None)
        if replaced:  # the same tab again: the old session goes, without a blur
            visitor.tabs.remove(replaced)
            if visitor.focused is replaced.session:
                visitor.focused = None
        lost = visitor.focused_tab()
        if lost:
            lost.session.push(encode({"type": "blur", "tab": lost.tab}))
        visitor.focused = session
        visitor.tabs.append(Tab(tab, session))
        visitor.notify_watchers(key[1])
        if replaced:
            replaced.session.close(REPLACED)
        return [kept[2] for kept in visitor.kept]

    def detach(self, key, session):
        """A tab's session ended: the most recently connected other tab takes focus, and the
        kept signals the ended tab may have left unacknowledged go again to the tab that has
        focus (docs/protocol.md section 2): the visitor's other tab makes no new connect that
        would replay them. Every kept copy is sent, a superset; duplicates are allowed."""
        visitor = self.visitors.get(key)
        tab = next((t for t in visitor.tabs if t.session is session), None) if visitor else None
        if tab is None:
            return
        visitor.tabs.remove(tab)
        if visitor.focused is session:
            nxt = visitor.tabs[-1] if visitor.tabs else None
            visitor.focused = nxt.session if nxt else None
            if nxt:
                nxt.session.push(encode({"type": "focused", "tab": nxt.tab}))
        focused = visitor.focused_tab()
        if focused:
            for kept in visitor.kept:
                focused.session.push(kept[2])
        visitor.notify_watchers(key[1])
        self.forget_if_empty(key)

    def unwatch(self, key, watcher):
        visitor = self.visitors.get(key)
        if visitor and watcher in visitor.watchers:
            visitor.watchers.remove(watcher)
            self.forget_if_empty(key)

    def forget_if_empty(self, key):
        visitor = self.visitors.get(key)
        if visitor is not None and visitor.empty():
            del self.visitors[key]

    # ---- the directory (HTTP) -----------------------------------------------------------

    async def on_http(self, reader, writer):
        """HTTP/1.1 with keep-alive, enough for /locate and the admin routes."""
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                status, body = await self.route(method, target)
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
                kind = "application/json" if not isinstance(body, bytes) else "text/plain; charset=utf-8"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
                    f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode() + payload
                )
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            pass
        except ValueError:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        finally:
            writer.close()

    async def route(self, method, target):
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True, errors="surrogateescape").items()}
        path = url.path
        if method == "GET" and path == "/locate":
            if "visitor" not in query:
                return "400 Bad Request", {"error": "visitor is required"}
            front = self.locate(query["visitor"])
            if front is None:
                return "503 Service Unavailable", {"error": "no live instance accepts visitors"}
            return "200 OK", {"url": front.url, "server": front.name}
        if method == "GET" and path == "/healthz":
            return "200 OK", b"ok"
        if method == "GET" and path == "/admin/instances":
            return "200 OK", {"instances": [f.info() for f in self.fronts if f.state != "starting"]}
        if method == "GET" and path == "/admin/stats":
            requests = dict(self.gone_requests)
            for front in self.fronts:
                for name, count in front.requests.items():
                    requests[name] = requests.get(name, 0) + count
            return "200 OK", {"sessions_opened": self.opened, "receiving_requests": requests}
        if method == "POST" and path in ("/admin/scale-in", "/admin/kill"):
            action = path.rsplit("/", 1)[1]
            front = self.pick(query.get("server"))
            if front is None:
                name = query.get("server")
                missing = f"no instance named {name!r}" if name else f"no live instance left to {action}"
                return ("404 Not Found" if name else "409 Conflict"), {"error": missing}
            info = front.info()
            if action == "kill":
                log(f"kill {front.name} (SIGKILL pid {front.process.pid})")
                self.stop_front(front)
                info["state"] = "killed"
            elif front.state == "live":
                log(f"scale-in {front.name}")
                self.drain(front)
                info["state"] = "draining"
            return "200 OK", info
        if method == "POST" and path == "/admin/scale-out":
            try:
                front = await self.start_front()
            except RuntimeError as err:
                return "500 Internal Server Error", {"error": str(err)}
            return "200 OK", front.info()
        return "404 Not Found", {"error": f"no route {method} {path}"}

    # ---- life ---------------------------------------------------------------------------

    async def run(self):
        control = await asyncio.start_server(self.on_control, "127.0.0.1", 0, limit=LINE_LIMIT)
        self.control_port = control.sockets[0].getsockname()[1]
        directory = await asyncio.start_server(self.on_http, "127.0.0.1", self.args.port)
        port = directory.sockets[0].getsockname()[1]
        stop = asyncio.get_running_loop().create_future()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(True))
        try:
            await asyncio.gather(*(self.start_front() for _ in range(self.args.instances)))
            print(f"directory http://127.0.0.1:{port}", flush=True)
            await asyncio.wait_for(stop, self.args.max_lifetime)
        except asyncio.TimeoutError:
            log(f"--max-lifetime {self.args.max_lifetime}s reached")
        finally:
            directory.close()
            control.close()
            for front in list(self.fronts):
                self.stop_front(front)
            for process in self.processes:
                if process.returncode is None:
                    try:
                        process.kill()
                    except ProcessLookupError:
                        pass
                await process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--front", required=True, help="the command that starts one instance front")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="the directory's port (0: any)")
    parser.add_argument("--drain-window", type=float, default=3.0, help="seconds a scale-in spreads its closes over")
    parser.add_argument("--drain-grace", type=float, default=2.0, help="seconds after the window before the front exits")
    parser.add_argument("--trace", action="store_true", help="log every message in and out on stderr")
    parser.add_argument("--max-lifetime", type=float, default=900.0, help="seconds after which the hub stops by itself")
    asyncio.run(Hub(parser.parse_args()).run())


if __name__ == "__main__":
    main()
