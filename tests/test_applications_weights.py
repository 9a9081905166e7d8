"""weights='imagenet' and decode_predictions through get_file, against a loopback HTTP server the
test starts: the weight files are written by keraslite from weights=None models, the module's
URL/hash constants are pointed at the server, and the rebuilt model predicts identically."""
import hashlib
import json
import os

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.applications import densenet, imagenet_utils, mobilenet, nasnet, resnet50, vgg16
from keraslite.utils.data_utils import DownloadError


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def _publish(model, loopback_server, fname):
    """Save `model`'s weights under the served folder as `fname`; return (url, md5)."""
    path = os.path.join(loopback_server.folder, fname)
    model.save_weights(path)
    return loopback_server.url(fname), _md5(path)


def test_densenet_imagenet_weights_load_through_get_file(loopback_server, keras_home, monkeypatch, rng):
    source = densenet.DenseNet121(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    fname = "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
    url, md5 = _publish(source, loopback_server, fname)
    monkeypatch.setattr(densenet, "DENSENET121_WEIGHT_PATH_NO_TOP", url)
    monkeypatch.setitem(densenet.WEIGHTS_HASHES, "densenet121", (densenet.WEIGHTS_HASHES["densenet121"][0], md5))
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    K.clear_session()
    loaded = densenet.DenseNet121(include_top=False, weights="imagenet", input_shape=(32, 32, 3), pooling="avg")
    np.testing.assert_array_equal(loaded.predict(x), source.predict(x))
    for a, b in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    cached = keras_home / "models" / fname
    assert cached.is_file() and loopback_server.hits["/" + fname] == 1
    # a second model comes from the cache (the hash still matches)
    densenet.DenseNet121(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    assert loopback_server.hits["/" + fname] == 1
    # the same file given as a path
    by_path = densenet.DenseNet121(include_top=False, weights=str(cached), input_shape=(32, 32, 3), pooling="avg")
    np.testing.assert_array_equal(by_path.predict(x), source.predict(x))


def test_mobilenet_imagenet_weights_with_top_and_no_hash(loopback_server, monkeypatch, rng):
    source = mobilenet.MobileNet(alpha=0.25, weights=None)  # 224x224 with its top, as the imagenet file
    _publish(source, loopback_server, "mobilenet_2_5_224_tf.h5")
    monkeypatch.setattr(mobilenet, "BASE_WEIGHT_PATH", loopback_server.url())
    loaded = mobilenet.MobileNet(alpha=0.25, weights="imagenet")
    assert loopback_server.hits["/mobilenet_2_5_224_tf.h5"] == 1
    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), source.predict(x))


def test_nasnet_weights_file_and_keras_static_input_rule(loopback_server, monkeypatch, tmp_path, rng):
    source = nasnet.NASNetMobile(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="max")
    path = str(tmp_path / "nasnet_mobile_no_top.h5")
    source.save_weights(path)
    loaded = nasnet.NASNetMobile(include_top=False, weights=path, input_shape=(32, 32, 3), pooling="max")
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), source.predict(x))
    # Keras builds NASNet as if flattened: ImageNet weights need the default input even without the top
    with pytest.raises(ValueError, match="should be \\(224, 224, 3\\)"):
        nasnet.NASNetMobile(include_top=False, weights="imagenet", input_shape=(32, 32, 3))


def test_wrong_hash_is_refused_and_nothing_is_loaded(loopback_server, keras_home, monkeypatch):
    source = resnet50.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    fname = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    url, md5 = _publish(source, loopback_server, fname)
    monkeypatch.setattr(resnet50, "WEIGHTS_PATH_NO_TOP", url)
    monkeypatch.setattr(resnet50, "WEIGHTS_HASH_NO_TOP", "0" * 32)
    with pytest.raises(ValueError, match="hash|Hash|corrupt"):
        resnet50.ResNet50(include_top=False, weights="imagenet", input_shape=(32, 32, 3), pooling="avg")
    assert not (keras_home / "models" / fname).exists()


def test_weights_of_another_architecture_are_refused(loopback_server, monkeypatch, tmp_path):
    wrong = mobilenet.MobileNet(include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.25)
    path = str(tmp_path / "mobilenet.h5")
    wrong.save_weights(path)
    with pytest.raises(ValueError):
        vgg16.VGG16(include_top=False, weights=path, input_shape=(32, 32, 3))


def test_unreachable_weights_url_names_the_url(monkeypatch):
    from loopback_http import closed_port_url
    with closed_port_url("vgg16_notop.h5") as url:
        monkeypatch.setattr(vgg16, "WEIGHTS_PATH_NO_TOP", url)
        with pytest.raises(DownloadError, match="127.0.0.1"):
            vgg16.VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))


# --- decode_predictions ----------------------------------------------------------------------

@pytest.fixture
def class_index(loopback_server, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    data = json.dumps(index).encode()
    url = loopback_server.write("imagenet_class_index.json", data)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", url)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(data).hexdigest())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    return index


def test_decode_predictions_top_k(loopback_server, class_index, rng):
    preds = rng.random((3, 1000)).astype(np.float32)
    decoded = vgg16.decode_predictions(preds, top=4)
    assert len(decoded) == 3
    for row, result in zip(preds, decoded):
        best = sorted(range(1000), key=lambda i: -row[i])[:4]
        assert [r[0] for r in result] == [f"n{i:08d}" for i in best]
        assert [r[1] for r in result] == [f"class_{i}" for i in best]
        np.testing.assert_array_equal([r[2] for r in result], row[best])
    assert len(densenet.decode_predictions(preds)[0]) == 5  # default top=5
    assert loopback_server.hits["/imagenet_class_index.json"] == 1  # read once, then kept


def test_decode_predictions_errors(class_index):
    with pytest.raises(ValueError, match="expects a batch of predictions"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="expects a batch of predictions"):
        imagenet_utils.decode_predictions(np.zeros(1000))
    with pytest.raises(ValueError, match="`top` must be a positive integer"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)), top=0)


def test_decode_predictions_rejects_a_file_that_is_not_a_class_index(loopback_server, monkeypatch):
    data = json.dumps({"0": ["n0", "only one"]}).encode()
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", loopback_server.write("imagenet_class_index.json", data))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(data).hexdigest())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    with pytest.raises(ValueError, match="not an ImageNet class index"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    assert imagenet_utils.CLASS_INDEX is None
