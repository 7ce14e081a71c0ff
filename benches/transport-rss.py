# Server memory per connected visitor on each SockJS transport (BENCHMARKS.md, "Reference
# server: memory per session by transport"). Opens N sessions on one transport against one
# instance, each sending `connect` and waiting for `connected`, then left idle the way its
# transport idles: a WebSocket open, an xhr_streaming or eventsource response open, an xhr
# poll waiting. Prints the server's RSS growth per session. Bounded: every wait times out
# after 30 s, and the script holds its sessions 3 s before it exits (closing them all).
# usage: python3 benches/transport-rss.py HOST:PORT SERVER_PID N TRANSPORT
# TRANSPORT: websocket, xhr_streaming, xhr_polling or eventsource
import asyncio, base64, json, os, sys

HOST, PORT = sys.argv[1].split(":")
PID, N, TRANSPORT = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
WAIT = 30


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
    payload, mask = connect_frame(i), os.urandom(4)
    masked = bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + masked)
    await read_until(reader, b"connected")
    return writer


async def streaming(base, i, method, path):
    reader, writer = await request(method, f"{base}/{path}")
    buffer = await read_until(reader, b"o\n" if path == "xhr_streaming" else b"data: o")
    await send(base, i)
    await read_until(reader, b"connected", buffer)
    return writer


async def polling(base, i):
    reader, writer = await request("POST", f"{base}/xhr", close=True)
    await read_until(reader, b"o\n")
    await send(base, i)
    reader, _ = await request("POST", f"{base}/xhr", close=True)
    await read_until(reader, b"connected")
    # The poll the session then waits with, as an idle polling client keeps one open.
    _, writer = await request("POST", f"{base}/xhr")
    return writer


async def session(i):
    base = f"/presence/000/s{i}"
    if TRANSPORT == "websocket":
        return await websocket(base, i)
    if TRANSPORT == "xhr_polling":
        return await polling(base, i)
    method, path = ("GET", "eventsource") if TRANSPORT == "eventsource" else ("POST", "xhr_streaming")
    return await streaming(base, i, method, path)


async def main():
    before = rss_kib()
    writers = []
    for start in range(0, N, 200):
        writers += await asyncio.gather(*(session(i) for i in range(start, min(N, start + 200))))
    await asyncio.sleep(3)
    after = rss_kib()
    print(f"{TRANSPORT}: {N} sessions, server RSS {before} -> {after} KiB, {(after - before) / N:.1f} KiB per session")
    for writer in writers:
        writer.close()


asyncio.run(main())
