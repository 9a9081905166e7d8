"""A tiny HTTP server on 127.0.0.1 for download tests: serves the files of a folder, counts the
requests per path, and can send a truncated body. Nothing leaves the machine."""
from __future__ import annotations

import collections
import contextlib
import functools
import http.server
import os
import threading


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.hits[self.path] += 1
        unsized = self.server.unsized.get(self.path)
        if unsized is not None:
            # HTTP/1.0 style: no Content-Length, the body ends when the connection closes
            self.send_response(200)
            self.end_headers()
            self.wfile.write(unsized)
            self.wfile.flush()
            self.close_connection = True
            return
        truncated = self.server.truncate.get(self.path)
        if truncated is not None:
            body = truncated
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))  # promise more than is sent
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


class LoopbackServer:
    """`with LoopbackServer(folder) as srv:` then `srv.url('name')`; `srv.hits['/name']` counts GETs."""

    def __init__(self, folder: str):
        self.folder = folder
        handler = functools.partial(_Handler, directory=folder)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.hits = collections.Counter()
        self.httpd.truncate = {}
        self.httpd.unsized = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def hits(self):
        return self.httpd.hits

    def url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def serve_truncated(self, name: str, body: bytes) -> str:
        self.httpd.truncate["/" + name] = body
        return self.url(name)

    def serve_unsized(self, name: str, body: bytes) -> str:
        self.httpd.unsized["/" + name] = body
        return self.url(name)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        return self.url(name)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def closed_port_url(name: str = "x"):
    """A loopback URL on which nothing listens (a refused connection, like no network)."""
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}/{name}"
