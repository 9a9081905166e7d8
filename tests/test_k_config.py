"""K surface, groups 1-2: configuration, uids, learning phase, clear_session, backend()."""
import numpy as np
import pytest

import keraslite
from keraslite import backend as K


# ---------------------------------------------------------------------------------------------
# epsilon


def test_epsilon_default_and_set():
    assert K.epsilon() == pytest.approx(1e-7)
    K.set_epsilon(1e-5)
    assert K.epsilon() == pytest.approx(1e-5)
    assert isinstance(K.epsilon(), float)
    K.set_epsilon(1e-7)
    assert K.epsilon() == pytest.approx(1e-7)


# ---------------------------------------------------------------------------------------------
# floatx


def test_floatx_default():
    assert K.floatx() == "float32"
    assert type(K.floatx()) is str


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_set_floatx_valid(dtype):
    K.set_floatx(dtype)
    assert K.floatx() == dtype
    assert type(K.floatx()) is str


@pytest.mark.parametrize("bad", ["float8", "int32", "bool", "Float32", "", 123, None])
def test_set_floatx_invalid_raises_and_keeps(bad):
    K.set_floatx("float64")
    with pytest.raises(ValueError):
        K.set_floatx(bad)
    assert K.floatx() == "float64"


def test_floatx_drives_default_dtypes():
    K.set_floatx("float64")
    assert K.dtype(K.variable(np.ones((2, 2), dtype=np.float32))) == "float64"
    assert K.dtype(K.placeholder(shape=(None, 2))) == "float64"
    assert K.dtype(K.constant(1.0)) == "float64"
    assert K.dtype(K.zeros((2,))) == "float64"
    assert K.eval(K.ones((2,))).dtype == np.float64
    K.set_floatx("float16")
    assert K.dtype(K.variable(1.0)) == "float16"


def test_cast_to_floatx():
    a = K.cast_to_floatx([1, 2, 3])
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    K.set_floatx("float64")
    assert K.cast_to_floatx(np.arange(3, dtype=np.int64)).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# image data format


def test_image_data_format_default_and_set():
    assert K.image_data_format() == "channels_last"
    K.set_image_data_format("channels_first")
    assert K.image_data_format() == "channels_first"
    K.set_image_data_format("channels_last")
    assert K.image_data_format() == "channels_last"


@pytest.mark.parametrize("bad", ["channels_middle", "", "th", None, 3])
def test_set_image_data_format_invalid_raises_and_keeps(bad):
    K.set_image_data_format("channels_first")
    with pytest.raises(ValueError):
        K.set_image_data_format(bad)
    assert K.image_data_format() == "channels_first"


def test_normalize_data_format():
    assert K.normalize_data_format(None) == "channels_last"
    K.set_image_data_format("channels_first")
    assert K.normalize_data_format(None) == "channels_first"
    assert K.normalize_data_format("Channels_Last") == "channels_last"
    with pytest.raises(ValueError):
        K.normalize_data_format("channels_middle")


# ---------------------------------------------------------------------------------------------
# uids


def test_get_uid_counts_per_prefix():
    K.reset_uids()
    assert K.get_uid("dense") == 1
    assert K.get_uid("dense") == 2
    assert K.get_uid("conv2d") == 1
    assert K.get_uid("dense") == 3
    assert K.get_uid() == 1
    assert K.get_uid("") == 2


def test_reset_uids():
    K.get_uid("foo")
    K.get_uid("foo")
    K.reset_uids()
    assert K.get_uid("foo") == 1


# ---------------------------------------------------------------------------------------------
# learning phase


def test_learning_phase_default_is_symbolic_and_stable():
    lp = K.learning_phase()
    assert K.is_tensor(lp)
    assert not isinstance(lp, (int, bool))
    assert K.ndim(lp) == 0
    assert K.learning_phase() is lp  # one learning-phase placeholder per graph


def test_learning_phase_unfed_defaults_to_test():
    x = K.variable(np.array([1.0, 2.0]))
    out = K.in_train_phase(x * 2, x * 3)
    np.testing.assert_allclose(K.eval(out), [3.0, 6.0])


@pytest.mark.parametrize("value", [0, 1])
def test_set_learning_phase(value):
    K.set_learning_phase(value)
    assert K.learning_phase() == value


@pytest.mark.parametrize("bad", [2, -1, 0.5, "train"])
def test_set_learning_phase_invalid(bad):
    K.set_learning_phase(1)
    with pytest.raises(ValueError):
        K.set_learning_phase(bad)
    assert K.learning_phase() == 1


def test_learning_phase_fed_through_function():
    x = K.placeholder(shape=(None, 2))
    out = K.in_train_phase(x * 2, x * 3)
    f = K.function([x, K.learning_phase()], [out])
    a = np.array([[1.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(f([a, 1])[0], a * 2)
    np.testing.assert_allclose(f([a, 0])[0], a * 3)


# ---------------------------------------------------------------------------------------------
# clear_session


def test_clear_session_resets_uids_and_learning_phase():
    K.get_uid("dense")
    K.get_uid("dense")
    K.set_learning_phase(1)
    K.clear_session()
    assert K.get_uid("dense") == 1
    lp = K.learning_phase()
    assert not isinstance(lp, (int, bool)) and K.is_tensor(lp)


def test_clear_session_then_new_graph_works():
    v = K.variable(np.ones((2, 2)))
    K.eval(v + 1)
    K.clear_session()
    w = K.variable(np.full((2, 2), 3.0))
    np.testing.assert_allclose(K.eval(w * 2), np.full((2, 2), 6.0))


# ---------------------------------------------------------------------------------------------
# misc group 2


def test_manual_variable_initialization_accepts_bool():
    K.manual_variable_initialization(False)


def test_name_scope_is_a_context_manager():
    with K.name_scope("block1"):
        v = K.variable(np.zeros(2))
    np.testing.assert_array_equal(K.eval(v), [0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# backend()


def test_backend_name_is_active_backend(kbackend):
    assert isinstance(K.backend(), str)
    assert K.backend() == kbackend
    assert K.backend() == keraslite.get_backend()
