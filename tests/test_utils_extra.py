"""utils.HDF5Matrix, utils.multi_gpu_model, convert_all_kernels_in_model and summary() of an unbuilt
model, against NumPy and Keras 2.3's messages."""
import h5py
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.layers import Conv1D, Conv2D, Dense, Flatten, Input
from keraslite.models import Model, Sequential
from keraslite.optimizers import SGD
from keraslite.utils import HDF5Matrix, convert_all_kernels_in_model, multi_gpu_model
from keraslite.utils import multi_gpu_utils
from keraslite.utils.conv_utils import convert_kernel

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture
def h5data(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = rng.normal(size=(50, 2)).astype("float32")
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f["x"] = x
        f["y"] = y
    yield path, x, y
    f = HDF5Matrix.refs.pop(path, None)
    if f:
        f.close()


def test_hdf5matrix_indexing_start_end_and_normalizer(h5data):
    path, x, _ = h5data
    m = HDF5Matrix(path, "x", start=10, end=30)
    assert len(m) == 20 and m.shape == (20, 4) and m.ndim == 2 and m.dtype == np.float32 and m.size == 80
    np.testing.assert_array_equal(m[0], x[10])
    np.testing.assert_array_equal(m[-1], x[29])
    np.testing.assert_array_equal(m[2:5], x[12:15])
    np.testing.assert_array_equal(m[:], x[10:30])
    np.testing.assert_array_equal(m[[4, 1, 1, 7]], x[[14, 11, 11, 17]])  # any order, repeats
    np.testing.assert_array_equal(m[np.array([3, 0])], x[[13, 10]])
    np.testing.assert_array_equal(np.asarray(m), x[10:30])
    with pytest.raises(IndexError):
        m[20]
    with pytest.raises(IndexError):
        m[15:25]
    with pytest.raises(IndexError):
        m[[19, 20]]
    scaled = HDF5Matrix(path, "x", start=5, end=8, normalizer=lambda a: a * 2.0 + 1.0)
    np.testing.assert_allclose(scaled[:], x[5:8] * 2.0 + 1.0)
    np.testing.assert_allclose(scaled[1], x[6] * 2.0 + 1.0)
    assert HDF5Matrix(path, "x").shape == (50, 4)
    with pytest.raises(ValueError, match="start=40, end=30"):
        HDF5Matrix(path, "x", start=40, end=30)
    with pytest.raises(KeyError, match="no dataset 'z'"):
        HDF5Matrix(path, "z")


def _linear(seed=0):
    model = Sequential([Dense(2, input_shape=(4,))])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile(SGD(lr=0.05), "mse")
    return model


def test_fit_on_hdf5matrix_with_batch_shuffle_equals_arrays(h5data):
    path, x, y = h5data
    a, b = _linear(), _linear()
    np.random.seed(11)
    ha = a.fit(HDF5Matrix(path, "x", end=40), HDF5Matrix(path, "y", end=40), batch_size=8, epochs=3,
               shuffle="batch", verbose=0)
    np.random.seed(11)
    hb = b.fit(x[:40], y[:40], batch_size=8, epochs=3, shuffle="batch", verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    np.testing.assert_allclose(a.predict(HDF5Matrix(path, "x", start=40)), a.predict(x[40:]), rtol=1e-6)
    np.testing.assert_allclose(a.evaluate(HDF5Matrix(path, "x", start=40), HDF5Matrix(path, "y", start=40),
                                          verbose=0), a.evaluate(x[40:], y[40:], verbose=0), rtol=1e-6)


def test_multi_gpu_model_messages_without_gpus():
    model = _linear()
    with pytest.raises(ValueError, match=r"call `multi_gpu_model` with `gpus >= 2`. Received: `gpus=1`"):
        multi_gpu_model(model, gpus=1)
    with pytest.raises(ValueError, match=r"with `len\(gpus\) >= 2`. Received: `gpus=\[0\]`"):
        multi_gpu_model(model, gpus=[0])
    if K.backend() != "cuda":
        with pytest.raises(ValueError, match=r"Received: `gpus=0`"):
            multi_gpu_model(model)  # no GPU visible
        with pytest.raises(ValueError, match=r"To call `multi_gpu_model` with `gpus=2`, we expect the following "
                                             r"devices to be available: \['/cpu:0', '/gpu:0', '/gpu:1'\]. However "
                                             r"this machine only has: \['/cpu:0'\]. Try reducing `gpus`."):
            multi_gpu_model(model, gpus=2)


@pytest.fixture
def three_gpus(monkeypatch):
    """Pretend three GPUs are visible: the batch splitting is checked on any backend."""
    monkeypatch.setattr(multi_gpu_utils, "_available_devices", lambda: ["/cpu:0", "/gpu:0", "/gpu:1", "/gpu:2"])


def test_multi_gpu_model_splits_batches_and_trains_the_template(three_gpus):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(23, 4)).astype("float32")  # 23 = 7 + 7 + 9: the last slice takes the rest
    y = rng.normal(size=(23, 2)).astype("float32")
    template, reference = _linear(), _linear()
    parallel = multi_gpu_model(template, gpus=3)
    parallel.compile(SGD(lr=0.05), "mse")
    np.testing.assert_allclose(parallel.predict(x, batch_size=23), template.predict(x), rtol=1e-6)
    parallel.fit(x, y, batch_size=23, epochs=2, shuffle=False, verbose=0)
    reference.fit(x, y, batch_size=23, epochs=2, shuffle=False, verbose=0)
    for wt, wr in zip(template.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(wt, wr, rtol=1e-5, atol=1e-6)
    slices = [K.eval(multi_gpu_utils.get_slice(K.constant(x), i, 3)) for i in range(3)]
    assert [len(s) for s in slices] == [7, 7, 9]
    np.testing.assert_array_equal(np.concatenate(slices), x)


def test_multi_gpu_model_keeps_output_names(three_gpus):
    inp = Input((3,))
    template = Model(inp, [Dense(2, name="a")(inp), Dense(1, name="b")(inp)])
    parallel = multi_gpu_model(template, gpus=[0, 2])
    assert parallel.output_names == ["a", "b"]
    x = np.ones((5, 3), "float32")
    for p, t in zip(parallel.predict(x), template.predict(x)):
        np.testing.assert_allclose(p, t, rtol=1e-6)


def test_convert_all_kernels_in_model():
    inp = Input((6, 6, 2))
    c2 = Conv2D(3, (3, 2), name="c2")(inp)
    flat = Flatten()(c2)
    out = Dense(2, name="d")(flat)
    model = Model(inp, out)
    before = {l.name: [w.copy() for w in l.get_weights()] for l in model.layers}
    convert_all_kernels_in_model(model)
    kernel, bias = model.get_layer("c2").get_weights()
    np.testing.assert_array_equal(kernel, before["c2"][0][::-1, ::-1, :, :])
    np.testing.assert_array_equal(bias, before["c2"][1])
    for w, w0 in zip(model.get_layer("d").get_weights(), before["d"]):
        np.testing.assert_array_equal(w, w0)
    convert_all_kernels_in_model(model)  # its own inverse
    np.testing.assert_array_equal(model.get_layer("c2").get_weights()[0], before["c2"][0])
    seq = Sequential([Conv1D(2, 3, input_shape=(8, 1))])
    k0 = seq.get_weights()[0].copy()
    convert_all_kernels_in_model(seq)
    np.testing.assert_array_equal(seq.get_weights()[0], k0[::-1])


def test_convert_kernel_checks_rank():
    k = np.arange(24.0).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(convert_kernel(k), k[::-1, ::-1])
    with pytest.raises(ValueError, match="Invalid kernel shape"):
        convert_kernel(np.zeros((3, 3)))


def test_summary_of_unbuilt_model_raises_keras_error():
    message = ("This model has not yet been built. Build the model first by calling build() or calling fit() "
               "with some data. Or specify input_shape or batch_input_shape in the first layer for automatic "
               "build. ")
    model = Sequential([Dense(3)])
    with pytest.raises(ValueError) as info:
        model.summary()
    assert str(info.value) == message
    model.build((None, 4))
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Total params: 15" in line for line in lines)


def test_fit_reads_hdf5matrix_inputs_batch_by_batch(h5data, monkeypatch):
    from keraslite.utils import io_utils
    path, x, y = h5data
    reads = []

    class Spy(HDF5Matrix):
        def __getitem__(self, key):
            value = super().__getitem__(key)
            reads.append(len(value))
            return value

        def __array__(self, dtype=None, copy=None):
            raise AssertionError("the whole matrix was read")

    monkeypatch.setattr(io_utils.MatrixRows, "_CHUNK", 16)  # the up-front NaN scan reads in chunks
    a, b = _linear(), _linear()
    np.random.seed(2)
    a.fit(Spy(path, "x"), y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    np.random.seed(2)
    b.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    assert reads and max(reads) <= 16
    np.testing.assert_allclose(a.predict(Spy(path, "x"), batch_size=10), a.predict(x), rtol=1e-6)
    assert max(reads) <= 16


def test_hdf5matrix_nan_is_found_before_training(tmp_path):
    path = str(tmp_path / "nan.h5")
    data = np.ones((30, 4), "float32")
    data[21, 2] = np.nan
    with h5py.File(path, "w") as f:
        f["x"] = data
    model = _linear()
    before = model.get_weights()
    try:
        with pytest.raises(ValueError, match="first at sample 21"):
            model.fit(HDF5Matrix(path, "x"), np.zeros((30, 2)), verbose=0)
    finally:
        HDF5Matrix.refs.pop(path).close()
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
