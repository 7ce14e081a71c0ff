# Server memory per connected visitor on each SockJS transport, and server CPU per presence
# (BENCHMARKS.md, "Server: memory per session and CPU per presence by SockJS transport").
# Opens N sessions on one transport against one instance, each sending `connect` and waiting
# for `connected`, then left idle the way its transport idles: a WebSocket open, an
# xhr_streaming or eventsource response open, an xhr poll waiting. Prints the server's RSS
# growth per session. With PRESENCES, each session then sends that many presences, one at a
# time, each after the previous one's ack (xhr_send and xhr polls on keep-alive connections,
# as sockjs-client does), and the server's CPU time per presence is printed. Bounded: every
# wait times out after 30 s; the sessions are closed when the script exits.
# usage: python3 benches/transport-rss.py HOST:PORT SERVER_PID N TRANSPORT [PRESENCES]
# TRANSPORT: sockjs (SockJS over WebSocket), xhr_streaming, xhr_polling or eventsource
import asyncio, base64, json, os, sys, time

HOST, PORT = sys.argv[1].split(":")
PID, N, TRANSPORT = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PRESENCES = int(sys.argv[5]) if len(sys.argv) > 5 else 0
WAIT = 30


def cpu_seconds():
    with open(f"/proc/{PID}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def presence_frame(seq):
    return json.dumps([json.dumps({"type": "presence", "seq": seq, "data": {"n": seq}})]).encode()


async def response(reader):
    """One HTTP/1.1 answer on a keep-alive connection: its body."""
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)).lower()
    if b"transfer-encoding: chunked" in head:
        body = b""
        while True:
            size = int((await asyncio.wait_for(reader.readline(), WAIT)).strip(), 16)
            body += (await asyncio.wait_for(reader.readexactly(size + 2), WAIT))[:-2]
            if size == 0:
                return body
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length:")), 0)
    return await asyncio.wait_for(reader.readexactly(length), WAIT)


def masked(payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
    return bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + body


async def flood(base, held):
    """PRESENCES presences on one session, each after the previous one's ack."""
    if TRANSPORT == "sockjs":
        reader, writer, buffer = held
        for seq in range(1, PRESENCES + 1):
            writer.write(masked(presence_frame(seq)))
            buffer = await read_until(reader, f'seq\\":{seq}}}'.encode(), buffer)
        return
    sender = await asyncio.open_connection(HOST, int(PORT))
    poller = await asyncio.open_connection(HOST, int(PORT)) if TRANSPORT == "xhr_polling" else None
    reader, _, buffer = held
    for seq in range(1, PRESENCES + 1):
        body = presence_frame(seq)
        sender[1].write(f"POST {base}/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await response(sender[0])
        ack = f'seq\\":{seq}}}'.encode()
        if poller is None:
            buffer = await read_until(reader, ack, buffer)
            continue
        polled = b""
        while ack not in polled:
            poller[1].write(f"POST {base}/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
            polled = await response(poller[0])


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def connect_frame(i):
    message = json.dumps({"type": "connect", "group": "1", "visitor": f"v{i}", "tab": "t"})
    return json.dumps([message]).encode()


async def read_until(reader, needle, buffer=b""):
    while needle not in buffer:
        data = await asyncio.wait_for(reader.read(65536), WAIT)
        if not data:
            raise EOFError(f"closed before {needle!r}: {buffer[-200:]!r}")
        buffer += data
    return buffer


async def request(method, path, body=b"", close=False):
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    writer.write((head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body)
    return reader, writer


async def send(base, i):
    reader, writer = await request("POST", f"{base}/xhr_send", connect_frame(i), close=True)
    await read_until(reader, b" 204 ")
    writer.close()


async def websocket(base, i):
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET {base}/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    await read_until(reader, b"\r\n\r\n")
    writer.write(masked(connect_frame(i)))
    return reader, writer, await read_until(reader, b"connected")


async def streaming(base, i, method, path):
    reader, writer = await request(method, f"{base}/{path}")
    buffer = await read_until(reader, b"o\n" if path == "xhr_streaming" else b"data: o")
    await send(base, i)
    return reader, writer, await read_until(reader, b"connected", buffer)


async def polling(base, i):
    reader, writer = await request("POST", f"{base}/xhr", close=True)
    await read_until(reader, b"o\n")
    await send(base, i)
    reader, _ = await request("POST", f"{base}/xhr", close=True)
    await read_until(reader, b"connected")
    if PRESENCES:
        return reader, None, b""
    # The poll the session then waits with, as an idle polling client keeps one open.
    reader, writer = await request("POST", f"{base}/xhr")
    return reader, writer, b""


async def session(i):
    base = f"/presence/000/s{i}"
    if TRANSPORT == "sockjs":
        return await websocket(base, i)
    if TRANSPORT == "xhr_polling":
        return await polling(base, i)
    method, path = ("GET", "eventsource") if TRANSPORT == "eventsource" else ("POST", "xhr_streaming")
    return await streaming(base, i, method, path)


async def main():
    before = rss_kib()
    held = []
    for start in range(0, N, 200):
        held += await asyncio.gather(*(session(i) for i in range(start, min(N, start + 200))))
    await asyncio.sleep(3)
    after = rss_kib()
    print(f"{TRANSPORT}: {N} sessions, server RSS {before} -> {after} KiB, {(after - before) / N:.1f} KiB per session")
    if PRESENCES:
        cpu, start = cpu_seconds(), time.monotonic()
        await asyncio.gather(*(flood(f"/presence/000/s{i}", held[i]) for i in range(N)))
        cpu, wall, count = cpu_seconds() - cpu, time.monotonic() - start, N * PRESENCES
        print(f"{TRANSPORT}: {count} presences acknowledged in {wall:.1f} s ({count / wall:.0f}/s), "
              f"server CPU {cpu:.2f} s, {cpu / count * 1e6:.0f} us per presence")


asyncio.run(main())
