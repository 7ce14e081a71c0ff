# A directory whose /locate answer never ends (chunked), for measuring the harness's memory.
# Bounded: each answer stops after 4 GiB or when the client hangs up; the server stops after 60 s.
import socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(srv.getsockname()[1], flush=True)
chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
def answer(c):
    try:
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d: return
            buf += d
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range((4 << 30) // 0x4000):
            c.sendall(chunk)
    except OSError:
        pass
    finally:
        c.close()
end = time.time() + 60
srv.settimeout(1)
while time.time() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=answer, args=(c,), daemon=True).start()
