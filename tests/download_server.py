"""A loopback HTTP server (127.0.0.1 only) that supports Range, for the downloader's tests
(data/download.py, scripts/download.py)."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOB = bytes(range(256)) * 4000          # ~1 MB: several read chunks
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves `server.files[path]`; honours `Range: bytes=N-` unless `server.ignore_range`;
    when `server.cut_next` is set, sends the full Content-Length but only half the body.
    A range past the end gets 416 with `Content-Range: bytes */total` (none if
    `server.bare_416`); `server.shift_range` makes a 206 start that many bytes early."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and not server.ignore_range:
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                if not server.bare_416:
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start -= server.shift_range
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if server.cut_next:
            server.cut_next = False
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def serve(monkeypatch):
    """Yields the running server (`server.url`, `server.files`, `server.requests` and the
    switches above), with no proxy in the way; shuts it down after. The body of each test
    module's `server` fixture."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests = {"/blob.bin": BLOB}, []
    httpd.cut_next, httpd.ignore_range, httpd.bare_416, httpd.shift_range = False, False, False, 0
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
