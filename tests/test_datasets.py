"""keraslite.datasets: small files in each dataset's real format, served from a loopback HTTP server
(the modules' ORIGIN/BASE_URL monkeypatched), loaded through get_file, checked against expectations
computed here with NumPy. Hostile pickles must be refused without running anything."""
import gzip
import hashlib
import inspect
import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.datasets import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters
from keraslite.datasets._safe_pickle import UnsafePickleError, load_npz, restricted_loads


@pytest.fixture
def server(loopback_server, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return loopback_server


def _serve(server, monkeypatch, module, name, data, hashed=True):
    monkeypatch.setattr(module, "ORIGIN", server.write(name, data))
    if hashed:
        monkeypatch.setattr(module, "FILE_HASH", hashlib.sha256(data).hexdigest())


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


class _System:
    """Pickles as a call of os.system: what a hostile file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


# -- signatures and facts from Keras 2.3 -----------------------------------------------------------

def test_keras_signatures_and_origins():
    params = inspect.signature(mnist.load_data).parameters
    assert list(params) == ["path"] and params["path"].default == "mnist.npz"
    assert list(inspect.signature(imdb.load_data).parameters) == [
        "path", "num_words", "skip_top", "maxlen", "seed", "start_char", "oov_char", "index_from", "kwargs"]
    assert list(inspect.signature(reuters.load_data).parameters) == [
        "path", "num_words", "skip_top", "maxlen", "test_split", "seed", "start_char", "oov_char", "index_from",
        "kwargs"]
    assert list(inspect.signature(boston_housing.load_data).parameters) == ["path", "test_split", "seed"]
    assert list(inspect.signature(cifar100.load_data).parameters) == ["label_mode"]
    assert not inspect.signature(cifar10.load_data).parameters
    assert not inspect.signature(fashion_mnist.load_data).parameters
    assert mnist.ORIGIN == "https://s3.amazonaws.com/img-datasets/mnist.npz"
    assert imdb.ORIGIN == "https://s3.amazonaws.com/text-datasets/imdb.npz"
    assert reuters.ORIGIN == "https://s3.amazonaws.com/text-datasets/reuters.npz"
    assert cifar10.ORIGIN == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar100.ORIGIN == "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    assert boston_housing.ORIGIN == "https://s3.amazonaws.com/keras-datasets/boston_housing.npz"


def test_keras_import_path():
    import keraslite
    from keraslite.datasets import mnist as m
    assert keraslite.datasets.mnist is m


# -- image datasets --------------------------------------------------------------------------------

def test_mnist(server, monkeypatch, rng):
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 6).astype(np.uint8),
              "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 3).astype(np.uint8)}
    _serve(server, monkeypatch, mnist, "mnist.npz", _npz_bytes(**arrays))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8
    cached = os.path.join(os.environ["KERAS_HOME"], "datasets", "mnist.npz")
    assert os.path.exists(cached)
    mnist.load_data()
    assert server.hits["/mnist.npz"] == 1


def test_mnist_wrong_hash_is_refused(server, monkeypatch):
    data = _npz_bytes(x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.zeros(1, np.uint8),
                      x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    monkeypatch.setattr(mnist, "ORIGIN", server.write("mnist.npz", data))
    with pytest.raises(ValueError, match="mnist.npz"):
        mnist.load_data()  # the real Keras hash does not match this file


def _idx_gz(magic, dims, payload):
    header = np.array([magic] + list(dims), dtype=">u4").tobytes()
    return gzip.compress(header + payload.tobytes())


def test_fashion_mnist(server, monkeypatch, rng):
    x_train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, 5).astype(np.uint8)
    x_test = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    y_test = rng.integers(0, 10, 2).astype(np.uint8)
    contents = {"train-labels-idx1-ubyte.gz": _idx_gz(2049, [5], y_train),
                "train-images-idx3-ubyte.gz": _idx_gz(2051, [5, 28, 28], x_train),
                "t10k-labels-idx1-ubyte.gz": _idx_gz(2049, [2], y_test),
                "t10k-images-idx3-ubyte.gz": _idx_gz(2051, [2, 28, 28], x_test)}
    for name, data in contents.items():
        server.write("fm/" + name, data)
    monkeypatch.setattr(fashion_mnist, "BASE_URL", server.url("fm/"))
    (a, b), (c, d) = fashion_mnist.load_data()
    np.testing.assert_array_equal(a, x_train)
    np.testing.assert_array_equal(b, y_train)
    np.testing.assert_array_equal(c, x_test)
    np.testing.assert_array_equal(d, y_test)
    assert os.path.isdir(os.path.join(os.environ["KERAS_HOME"], "datasets", "fashion-mnist"))
    # a file that is not IDX gets a clear error
    server.write("fm2/train-labels-idx1-ubyte.gz", gzip.compress(b"garbage!" * 4))
    for name, data in contents.items():
        if name != "train-labels-idx1-ubyte.gz":
            server.write("fm2/" + name, data)
    monkeypatch.setattr(fashion_mnist, "BASE_URL", server.url("fm2/"))
    monkeypatch.setenv("KERAS_HOME", os.environ["KERAS_HOME"] + "2")
    with pytest.raises(ValueError, match="IDX"):
        fashion_mnist.load_data()


def _py2_style_batch(batch: dict) -> bytes:
    """A CIFAR batch as the Python 2 original: bytes keys, protocol 2."""
    return pickle.dumps({k.encode(): v for k, v in batch.items()}, protocol=2)


def _cifar_tar(dirname, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{dirname}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cifar10(server, monkeypatch, rng, data_format):
    K.set_image_data_format(data_format)
    members, datas, labels = {}, [], []
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                              "test_batch"]):
        n = 2 + i % 2
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, n)]
        datas.append(data)
        labels.append(lab)
        members[name] = _py2_style_batch({"batch_label": b"batch", "data": data, "labels": lab,
                                          "filenames": [b"f%d.png" % j for j in range(n)]})
    _serve(server, monkeypatch, cifar10, "cifar-10-python.tar.gz", _cifar_tar("cifar-10-batches-py", members),
           hashed=False)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    expected_train = np.concatenate(datas[:5]).reshape(-1, 3, 32, 32)
    expected_test = datas[5].reshape(-1, 3, 32, 32)
    if data_format == "channels_last":
        expected_train = expected_train.transpose(0, 2, 3, 1)
        expected_test = expected_test.transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x_train, expected_train)
    np.testing.assert_array_equal(x_test, expected_test)
    np.testing.assert_array_equal(y_train, np.concatenate(labels[:5]).reshape(-1, 1))
    np.testing.assert_array_equal(y_test, np.array(labels[5]).reshape(-1, 1))
    assert x_train.dtype == np.uint8 and y_train.shape == (len(x_train), 1)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100(server, monkeypatch, rng, label_mode):
    members, expected = {}, {}
    for name, n in (("train", 4), ("test", 3)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = [int(v) for v in rng.integers(0, 100, n)]
        coarse = [int(v) for v in rng.integers(0, 20, n)]
        members[name] = _py2_style_batch({"data": data, "fine_labels": fine, "coarse_labels": coarse})
        expected[name] = (data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1),
                          np.array(fine if label_mode == "fine" else coarse).reshape(-1, 1))
    _serve(server, monkeypatch, cifar100, "cifar-100-python.tar.gz", _cifar_tar("cifar-100-python", members),
           hashed=False)
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode)
    np.testing.assert_array_equal(x_train, expected["train"][0])
    np.testing.assert_array_equal(y_train, expected["train"][1])
    np.testing.assert_array_equal(x_test, expected["test"][0])
    np.testing.assert_array_equal(y_test, expected["test"][1])


def test_cifar100_bad_label_mode_before_download(server, monkeypatch):
    monkeypatch.setattr(cifar100, "ORIGIN", server.url("cifar-100-python.tar.gz"))
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data("medium")
    assert sum(server.hits.values()) == 0


# -- hostile pickles -------------------------------------------------------------------------------

def test_hostile_cifar_batch_is_refused(server, monkeypatch, tmp_path):
    marker = str(tmp_path / "pwned")
    evil = pickle.dumps({b"data": _System(marker), b"labels": [0]}, protocol=2)
    members = {name: evil for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]}
    _serve(server, monkeypatch, cifar10, "cifar-10-python.tar.gz", _cifar_tar("cifar-10-batches-py", members),
           hashed=False)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        cifar10.load_data()
    assert not os.path.exists(marker)


@pytest.mark.parametrize("payload", ["reduce", "builtins_eval", "getattr", "codecs_other"])
def test_restricted_unpickler_refuses_code(tmp_path, payload):
    marker = str(tmp_path / "pwned")
    if payload == "reduce":
        data = pickle.dumps([1, _System(marker)], protocol=4)
    elif payload == "builtins_eval":
        data = b"cbuiltins\neval\n(V__import__('os').system('touch " + marker.encode() + b"')\ntR."
    elif payload == "getattr":
        data = b"cbuiltins\ngetattr\n(cbuiltins\nlist\nVappend\ntR."
    else:
        data = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    with pytest.raises(UnsafePickleError):
        restricted_loads(data)
    assert not os.path.exists(marker)


def test_restricted_unpickler_reads_plain_data(rng):
    value = {"a": rng.standard_normal((2, 3)), "b": [1, 2.5, b"x", "y", (True, None)], "c": {1, 2},
             "d": np.float32(1.5), "e": np.arange(4, dtype=">i4")}
    for protocol in (2, 3, 4, 5):
        data = pickle.dumps(value, protocol=protocol)
        got = restricted_loads(data)
        np.testing.assert_array_equal(got["a"], value["a"])
        np.testing.assert_array_equal(got["e"], value["e"])
        assert got["e"].dtype == pickle.loads(data)["e"].dtype  # whatever NumPy's own pickling keeps
        assert got["b"] == value["b"] and got["c"] == value["c"] and got["d"] == value["d"]
    # files pickled by NumPy 1.x (the CIFAR batches) name numpy.core, not numpy._core
    legacy = pickle.dumps(value, protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray\n_reconstruct" in legacy
    np.testing.assert_array_equal(restricted_loads(legacy)["a"], value["a"])


def test_hostile_object_array_in_npz_is_refused(server, monkeypatch, tmp_path):
    marker = str(tmp_path / "pwned")
    evil = np.empty(1, dtype=object)
    evil[0] = _System(marker)
    data = _npz_bytes(x_train=evil, y_train=np.zeros(1, np.int64), x_test=evil, y_test=np.zeros(1, np.int64))
    _serve(server, monkeypatch, imdb, "imdb.npz", data)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        imdb.load_data()
    assert not os.path.exists(marker)


def test_load_npz_plain_and_fortran(tmp_path, rng):
    a = np.asfortranarray(rng.standard_normal((3, 4)))
    b = rng.integers(0, 9, (2, 5)).astype(np.int16)
    path = tmp_path / "f.npz"
    path.write_bytes(_npz_bytes(a=a, b=b))
    got = load_npz(str(path))
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)
    assert got["b"].dtype == np.int16


# -- text datasets ---------------------------------------------------------------------------------

def _expected_text(train, test, labels_train, labels_test, seed=113, start_char=1, oov_char=2, index_from=3,
                   num_words=None, skip_top=0, maxlen=None):
    """Keras 2's processing, written out step by step for the expectation."""
    rs = np.random.RandomState(seed)
    p_train = rs.permutation(len(train))
    p_test = rs.permutation(len(test))
    parts = []
    for seqs, labs, perm in ((train, labels_train, p_train), (test, labels_test, p_test)):
        out_x, out_y = [], []
        for i in perm:
            x = ([start_char] if start_char is not None else []) + [w + index_from for w in seqs[i]]
            if maxlen and not len(x) < maxlen:
                continue
            out_x.append(x)
            out_y.append(labs[i])
        parts.append((out_x, out_y))
    top = num_words or max(max(x) for x, in zip(parts[0][0] + parts[1][0]))
    result = []
    for xs, ys in parts:
        if oov_char is not None:
            xs = [[w if skip_top <= w < top else oov_char for w in x] for x in xs]
        else:
            xs = [[w for w in x if skip_top <= w < top] for x in xs]
        result.append((xs, ys))
    return result


def _random_seqs(rng, n, vocab=30):
    return [[int(w) for w in rng.integers(1, vocab, int(rng.integers(1, 9)))] for _ in range(n)]


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 12, "skip_top": 5}, {"maxlen": 6, "oov_char": None},
                                    {"start_char": None, "index_from": 0, "seed": 7}])
def test_imdb(server, monkeypatch, rng, kwargs):
    train, test = _random_seqs(rng, 9), _random_seqs(rng, 7)
    y_tr, y_te = rng.integers(0, 2, 9), rng.integers(0, 2, 7)
    _serve(server, monkeypatch, imdb, "imdb.npz", _npz_bytes(x_train=_object_array(train), y_train=y_tr,
                                                             x_test=_object_array(test), y_test=y_te))
    (x_train, y_train), (x_test, y_test) = imdb.load_data(**kwargs)
    (ex_train, ey_train), (ex_test, ey_test) = _expected_text(train, test, y_tr, y_te, **kwargs)
    assert x_train.dtype == object and x_train.ndim == 1
    assert [list(x) for x in x_train] == ex_train
    assert [list(x) for x in x_test] == ex_test
    np.testing.assert_array_equal(y_train, ey_train)
    np.testing.assert_array_equal(y_test, ey_test)


def test_imdb_arguments(server, monkeypatch, rng):
    train = _random_seqs(rng, 4)
    _serve(server, monkeypatch, imdb, "imdb.npz", _npz_bytes(x_train=_object_array(train), y_train=np.zeros(4, int),
                                                             x_test=_object_array(train), y_test=np.zeros(4, int)))
    with pytest.raises(TypeError, match="bogus"):
        imdb.load_data(bogus=1)
    with pytest.warns(UserWarning, match="num_words"):
        (a, _), _ = imdb.load_data(nb_words=5)
    assert max(max(x) for x in a) <= 4
    with pytest.raises(ValueError, match="maxlen"):
        imdb.load_data(maxlen=1)
    with pytest.raises(ValueError, match="num_words"):
        imdb.load_data(num_words=-3)


@pytest.mark.parametrize("kwargs", [{}, {"test_split": 0.5, "num_words": 10}, {"maxlen": 5, "skip_top": 4}])
def test_reuters(server, monkeypatch, rng, kwargs):
    seqs = _random_seqs(rng, 12)
    labels = rng.integers(0, 46, 12)
    _serve(server, monkeypatch, reuters, "reuters.npz", _npz_bytes(x=_object_array(seqs), y=labels))
    (x_train, y_train), (x_test, y_test) = reuters.load_data(**kwargs)
    test_split = kwargs.pop("test_split", 0.2)
    (xs, ys), _ = _expected_text(seqs, [], labels, [], **kwargs)
    split = int(len(xs) * (1 - test_split))
    assert [list(x) for x in x_train] == xs[:split]
    assert [list(x) for x in x_test] == xs[split:]
    np.testing.assert_array_equal(y_train, ys[:split])
    np.testing.assert_array_equal(y_test, ys[split:])


@pytest.mark.parametrize("module, name", [(imdb, "imdb_word_index.json"), (reuters, "reuters_word_index.json")])
def test_word_index(server, monkeypatch, module, name):
    data = json.dumps({"the": 1, "and": 2, "film": 17}).encode()
    monkeypatch.setattr(module, "WORD_INDEX_ORIGIN", server.write(name, data))
    monkeypatch.setattr(module, "WORD_INDEX_HASH", hashlib.md5(data).hexdigest())
    assert module.get_word_index() == {"the": 1, "and": 2, "film": 17}
    assert os.path.exists(os.path.join(os.environ["KERAS_HOME"], "datasets", name))


def test_boston_housing(server, monkeypatch, rng):
    x = rng.standard_normal((20, 13))
    y = rng.standard_normal(20)
    _serve(server, monkeypatch, boston_housing, "boston_housing.npz", _npz_bytes(x=x, y=y))
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.25, seed=3)
    perm = np.random.RandomState(3).permutation(20)
    np.testing.assert_array_equal(x_train, x[perm][:15])
    np.testing.assert_array_equal(y_train, y[perm][:15])
    np.testing.assert_array_equal(x_test, x[perm][15:])
    np.testing.assert_array_equal(y_test, y[perm][15:])
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)
