"""callbacks.RemoteMonitor against a loopback HTTP server started by the test."""
import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

import keraslite
from keraslite import callbacks
from keraslite.layers import Dense
from keraslite.models import Sequential
from loopback_http import closed_port_url


class _Recorder(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.posts = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _fit(cb, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype("float32")
    y = rng.standard_normal((8, 1)).astype("float32")
    with keraslite.use_backend("numpy"):
        model = Sequential([Dense(1, input_shape=(3,))])
        model.compile("sgd", "mse", metrics=["mae"])
        return model.fit(x, y, epochs=epochs, verbose=0, validation_data=(x, y), callbacks=[cb])


@pytest.mark.parametrize("send_as_json", [False, True])
def test_one_post_per_epoch(server, send_as_json):
    root = f"http://127.0.0.1:{server.server_address[1]}"
    cb = callbacks.RemoteMonitor(root=root, path="/publish/epoch/end/", field="payload",
                                 headers={"X-Run": "abc"}, send_as_json=send_as_json)
    hist = _fit(cb, epochs=3)
    assert len(server.posts) == 3
    for epoch, (path, headers, body) in enumerate(server.posts):
        assert path == "/publish/epoch/end/"
        assert headers["X-Run"] == "abc"
        if send_as_json:
            assert headers["Content-Type"] == "application/json"
            sent = json.loads(body)
        else:
            assert headers["Content-Type"] == "application/x-www-form-urlencoded"
            form = urllib.parse.parse_qs(body.decode("ascii"))
            assert list(form) == ["payload"]
            sent = json.loads(form["payload"][0])
        assert sent["epoch"] == epoch
        assert set(sent) == {"epoch"} | set(hist.history)
        for key, values in hist.history.items():
            assert sent[key] == pytest.approx(float(values[epoch]), rel=1e-6)


def test_numpy_values_become_json_numbers(server):
    root = f"http://127.0.0.1:{server.server_address[1]}"
    cb = callbacks.RemoteMonitor(root=root, path="/x", send_as_json=True)
    cb.on_epoch_end(4, {"loss": np.float32(0.5), "acc": np.array(0.25), "vec": np.array([1, 2])})
    assert json.loads(server.posts[0][2]) == {"epoch": 4, "loss": 0.5, "acc": 0.25, "vec": [1, 2]}


def test_unreachable_server_warns_and_training_goes_on():
    with closed_port_url("") as url:
        cb = callbacks.RemoteMonitor(root=url.rstrip("/"), timeout=2)
        with pytest.warns(UserWarning, match="could not reach RemoteMonitor root server"):
            hist = _fit(cb, epochs=2)
    assert len(hist.history["loss"]) == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="root"):
        callbacks.RemoteMonitor(root="file:///etc/passwd")
    with pytest.raises(ValueError, match="headers"):
        callbacks.RemoteMonitor(headers=["X: y"])
