#!/usr/bin/env python3
"""One Presence instance on aiohttp-sockjs (PyPI `sockjs`, pinned in requirements.txt),
started by tests/interop/hub.py.

The library serves /presence its own way (SockJS framing, WebSocket and raw WebSocket, xhr,
xhr_streaming, eventsource, heartbeats, escaping, session timeouts, the JSESSIONID cookie),
with `add_endpoint`'s default settings. This file only relays: every message of every
session goes to the hub, which holds the Presence state, and what the hub sends goes out
with the library's own `session.send` / `session.close`. The hub protocol is in hub.py.

Usage: python front.py --hub 127.0.0.1:PORT --server NAME [--port 0] [--handler-cancellation]
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import re
import socket

import sockjs
from aiohttp import web

RECEIVING = re.compile(r"^/presence/[^/]+/[^/]+/([a-z_]+)$")


async def main(args):
    host, port = args.hub.split(":")
    # Lines as long as the hub's: a batch of messages, a replay of kept signals.
    reader, writer = await asyncio.open_connection(host, int(port), limit=64 * 1024 * 1024)
    sessions = {}  # sid -> sockjs.Session
    sids = itertools.count(1)
    requests = {}  # receiving requests served, by transport path

    def tell(message):
        writer.write((json.dumps(message, separators=(",", ":")) + "\n").encode())

    async def presence(manager, session, msg):
        """The library's handler: OPEN, MESSAGE, then CLOSE and/or CLOSED."""
        if msg.type == sockjs.MsgType.OPEN:
            session.presence_sid = next(sids)
            sessions[session.presence_sid] = session
            # The raw WebSocket route has no {transport} segment.
            transport = session.request.match_info.get("transport", "websocket-raw")
            tell({"op": "open", "sid": session.presence_sid, "transport": transport})
        elif msg.type == sockjs.MsgType.MESSAGE:
            if getattr(session, "presence_sid", None) in sessions:
                tell({"op": "msg", "sid": session.presence_sid, "text": msg.data})
        elif sessions.pop(getattr(session, "presence_sid", None), None) is not None:
            tell({"op": "closed", "sid": session.presence_sid})

    @web.middleware
    async def count(request, handler):
        match = RECEIVING.match(request.path)
        if match and match.group(1) != "xhr_send":
            requests[match.group(1)] = requests.get(match.group(1), 0) + 1
        return await handler(request)

    async def healthz(_request):
        return web.Response(text="ok")

    app = web.Application(middlewares=[count])
    app.router.add_get("/healthz", healthz)
    sockjs.add_endpoint(app, presence, name="presence", prefix="/presence")
    runner = web.AppRunner(app, access_log=None, handler_cancellation=args.handler_cancellation)
    await runner.setup()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    await web.SockSite(runner, listener).start()
    tell({"op": "hello", "server": args.server, "port": listener.getsockname()[1]})

    async def report():
        reported = None
        while True:
            await asyncio.sleep(0.5)
            if reported != requests:
                reported = dict(requests)
                tell({"op": "stats", "requests": reported})

    asyncio.ensure_future(report())
    while True:
        line = await reader.readline()
        if not line:
            os._exit(1)  # the hub is gone: so is this instance
        command = json.loads(line)
        session = sessions.get(command.get("sid"))
        if command["op"] == "send" and session is not None:
            for text in command["msgs"]:
                session.send(text)
        elif command["op"] == "close" and session is not None:
            session.close(command["code"], command["reason"])
        elif command["op"] == "exit":
            tell({"op": "stats", "requests": requests})
            await writer.drain()
            os._exit(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, default=0)
    # Off, as in aiohttp's defaults: aiohttp no longer cancels a handler whose client went
    # away, and aiohttp-sockjs notices a cut receiving request (a closed tab) only through
    # that cancellation; without it, only when the session times out (tests/interop/README.md).
    parser.add_argument("--handler-cancellation", action="store_true", help="aiohttp's handler_cancellation")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format=f"front {arguments.server}: %(name)s: %(message)s")
    asyncio.run(main(arguments))
