"""`callbacks.RemoteMonitor`: a POST of the epoch logs to a server after every epoch (Keras 2.3),
sent with the standard library's urllib (Keras 2 needed `requests`; keraslite needs nothing)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from .callbacks import Callback

__all__ = ["RemoteMonitor"]


def _plain(value):
    # NumPy scalars and 0-d arrays become Python numbers; larger arrays become lists
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if np.ndim(value) == 0 else value.tolist()
    return value


class RemoteMonitor(Callback):
    """RemoteMonitor(root='http://localhost:9000', path='/publish/epoch/end/', field='data',
    headers=None, send_as_json=False)

    After each epoch, POSTs `{'epoch': epoch, **logs}` to `root + path`: as a form field `field`
    holding the JSON text (application/x-www-form-urlencoded), or with `send_as_json=True` as the
    JSON body itself (application/json). `headers` is a dict of extra HTTP headers. A server that
    cannot be reached gives a warning, not an error, so training goes on. `timeout` (seconds,
    keraslite) bounds each request."""

    def __init__(self, root: str = "http://localhost:9000", path: str = "/publish/epoch/end/", field: str = "data",
                 headers: dict | None = None, send_as_json: bool = False, timeout: float = 10.0):
        super().__init__()
        if not isinstance(root, str) or not isinstance(path, str):
            raise ValueError(f"RemoteMonitor: root and path must be strings, got {root!r} and {path!r}")
        scheme = urllib.parse.urlsplit(root).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"RemoteMonitor: root must be an http:// or https:// URL, got {root!r}")
        if headers is not None and not isinstance(headers, dict):
            raise ValueError(f"RemoteMonitor: headers must be a dict, got {type(headers).__name__}")
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = bool(send_as_json)
        self.timeout = float(timeout)

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = _plain(value)
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn("Warning: could not reach RemoteMonitor root server at " + str(self.root))
