"""keraslite.initializers against Keras 2 formulas: statistics on large shapes, fans, seeds,
orthogonality, identity, configs, get(), dtypes.

Initializers return NumPy arrays drawn on the host, so these tests need no backend fixture.
"""
import math

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import initializers as I
from keraslite.utils.generic_utils import CustomObjectScope

BIG = (400, 500)  # 200,000 values: sample statistics within about 1% of the truth
TRUNC = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _stats(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(), x.std(), x.min(), x.max()


# ---------------------------------------------------------------------------------------------
# simple initializers


def test_zeros_ones_constant():
    for init, want in ((I.Zeros(), 0.0), (I.Ones(), 1.0), (I.Constant(3.5), 3.5), (I.Constant(), 0.0)):
        out = init((3, 4))
        assert isinstance(out, np.ndarray) and out.shape == (3, 4) and out.dtype == np.float32
        np.testing.assert_array_equal(out, np.full((3, 4), want, np.float32))
    np.testing.assert_array_equal(I.Constant([1, 2, 3])((2, 3)), [[1, 2, 3], [1, 2, 3]])
    assert I.Zeros()((5,), dtype="int32").dtype == np.int32
    assert I.Zeros()(()).shape == ()


def test_lowercase_aliases_are_the_classes():
    assert I.zeros is I.Zeros and I.zero is I.Zeros and I.ones is I.Ones and I.constant is I.Constant
    assert I.normal is I.RandomNormal and I.random_normal is I.RandomNormal
    assert I.uniform is I.RandomUniform and I.random_uniform is I.RandomUniform
    assert I.truncated_normal is I.TruncatedNormal and I.variance_scaling is I.VarianceScaling
    assert I.orthogonal is I.Orthogonal and I.identity is I.Identity


def test_random_normal_stats():
    mean, std, _, _ = _stats(I.RandomNormal(mean=1.0, stddev=2.0, seed=1)(BIG))
    assert abs(mean - 1.0) < 0.03 and abs(std - 2.0) < 0.02
    mean, std, _, _ = _stats(I.RandomNormal(seed=2)(BIG))  # defaults mean 0, stddev 0.05
    assert abs(mean) < 1e-3 and abs(std - 0.05) < 1e-3


def test_random_uniform_stats():
    mean, std, lo, hi = _stats(I.RandomUniform(minval=-1.0, maxval=3.0, seed=3)(BIG))
    assert -1.0 <= lo and hi < 3.0 and lo < -0.99 and hi > 2.99
    assert abs(mean - 1.0) < 0.02 and abs(std - 4 / math.sqrt(12)) < 0.01
    _, _, lo, hi = _stats(I.RandomUniform(seed=3)(BIG))
    assert -0.05 <= lo and hi <= 0.05 and lo < -0.0499 and hi > 0.0499


def test_truncated_normal_stats():
    x = I.TruncatedNormal(mean=0.5, stddev=2.0, seed=4)(BIG)
    mean, std, lo, hi = _stats(x)
    assert lo >= 0.5 - 4.0 and hi <= 0.5 + 4.0  # within two standard deviations
    assert lo < 0.5 - 3.9 and hi > 0.5 + 3.9    # and the tails are really reached
    assert abs(mean - 0.5) < 0.03 and abs(std - 2.0 * TRUNC) < 0.02


# ---------------------------------------------------------------------------------------------
# fans and variance scaling


@pytest.mark.parametrize("shape, fans", [
    ((20, 30), (20, 30)),
    ((3, 5, 7), (3 * 5, 3 * 7)),                 # Conv1D kernel (width, in, out)
    ((3, 3, 16, 32), (9 * 16, 9 * 32)),          # Conv2D kernel
    ((2, 3, 4, 5, 6), (24 * 5, 24 * 6)),         # Conv3D kernel
    ((16,), (4.0, 4.0)),                          # other ranks: sqrt(prod(shape))
    ((2, 2, 2, 2, 2, 2), (8.0, 8.0)),
])
def test_compute_fans(shape, fans):
    assert I._compute_fans(shape) == pytest.approx(fans)


def test_compute_fans_channels_first():
    assert I._compute_fans((32, 16, 3, 3), data_format="channels_first") == (16 * 9, 32 * 9)


@pytest.mark.parametrize("factory, scale, mode", [
    (I.glorot_uniform, 1.0, "fan_avg"), (I.he_uniform, 2.0, "fan_in"), (I.lecun_uniform, 1.0, "fan_in"),
])
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 64, 128)])
def test_uniform_variance_scaling_limits(factory, scale, mode, shape):
    init = factory(seed=5)
    assert isinstance(init, I.VarianceScaling)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, "uniform")
    fan_in, fan_out = I._compute_fans(shape)
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    limit = math.sqrt(3 * scale / n)
    if factory is I.glorot_uniform:
        assert limit == pytest.approx(math.sqrt(6 / (fan_in + fan_out)))
    mean, std, lo, hi = _stats(init(shape))
    assert -limit <= lo and hi <= limit and lo < -0.99 * limit and hi > 0.99 * limit
    assert abs(mean) < 0.01 * limit and abs(std - limit / math.sqrt(3)) < 0.01 * limit


@pytest.mark.parametrize("factory, scale, mode", [
    (I.glorot_normal, 1.0, "fan_avg"), (I.he_normal, 2.0, "fan_in"), (I.lecun_normal, 1.0, "fan_in"),
])
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 64, 128)])
def test_normal_variance_scaling_std(factory, scale, mode, shape):
    init = factory(seed=6)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, "normal")
    fan_in, fan_out = I._compute_fans(shape)
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    want_std = math.sqrt(scale / n)  # the std *after* truncation
    bound = 2 * want_std / TRUNC
    mean, std, lo, hi = _stats(init(shape))
    assert -bound <= lo and hi <= bound and lo < -0.98 * bound
    assert abs(mean) < 0.01 * want_std and abs(std - want_std) < 0.015 * want_std


def test_variance_scaling_fan_out_and_untruncated():
    x = I.VarianceScaling(scale=3.0, mode="fan_out", distribution="uniform", seed=7)((100, 400))
    limit = math.sqrt(3 * 3.0 / 400)
    assert np.abs(x).max() <= limit and np.abs(x).max() > 0.99 * limit
    x = I.VarianceScaling(scale=2.0, distribution="untruncated_normal", seed=7)((400, 500))
    assert abs(x.std() - math.sqrt(2.0 / 400)) < 0.01 * math.sqrt(2.0 / 400)
    assert np.abs(x).max() > 3 * math.sqrt(2.0 / 400)  # not truncated
    x = I.VarianceScaling(distribution="truncated_normal", seed=7)((400, 500))
    assert abs(x.std() - math.sqrt(1 / 400)) < 0.015 * math.sqrt(1 / 400)


def test_variance_scaling_small_fan_uses_max_one():
    # s = scale / max(1, n): a 1-element weight has n = 1, a (1, 0)... never divides by less than 1
    x = I.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=0)((1, 100000))
    assert np.abs(x).max() <= math.sqrt(3) and np.abs(x).max() > 0.99 * math.sqrt(3)


@pytest.mark.parametrize("kwargs", [dict(scale=0.0), dict(scale=-1.0), dict(mode="fan_sum"),
                                    dict(distribution="gamma")])
def test_variance_scaling_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        I.VarianceScaling(**kwargs)


def test_variance_scaling_mode_case_insensitive():
    init = I.VarianceScaling(mode="FAN_AVG", distribution="Uniform")
    assert init.mode == "fan_avg" and init.distribution == "uniform"


# ---------------------------------------------------------------------------------------------
# orthogonal and identity


@pytest.mark.parametrize("shape", [(50, 50), (30, 80), (80, 30)])
def test_orthogonal(shape):
    q = I.Orthogonal(gain=2.0, seed=8)(shape).astype(np.float64)
    assert q.shape == shape
    rows, cols = shape
    if rows >= cols:   # orthonormal columns
        np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(cols), atol=1e-5)
    else:              # orthonormal rows
        np.testing.assert_allclose(q @ q.T, 4.0 * np.eye(rows), atol=1e-5)


def test_orthogonal_conv_shape_flattens_leading_dims():
    q = I.Orthogonal(seed=9)((3, 3, 4, 8)).astype(np.float64)
    flat = q.reshape(36, 8)
    np.testing.assert_allclose(flat.T @ flat, np.eye(8), atol=1e-5)
    with pytest.raises(ValueError):
        I.Orthogonal()((5,))


def test_identity():
    np.testing.assert_array_equal(I.Identity()((3, 3)), np.eye(3))
    np.testing.assert_array_equal(I.Identity(gain=2.5)((2, 4)), 2.5 * np.eye(2, 4))
    np.testing.assert_array_equal(I.Identity()((4, 2)), np.eye(4, 2))
    for bad in ((3,), (2, 2, 2)):
        with pytest.raises(ValueError):
            I.Identity()(bad)


# ---------------------------------------------------------------------------------------------
# seeds


SEEDED = [lambda s: I.RandomNormal(seed=s), lambda s: I.RandomUniform(seed=s), lambda s: I.TruncatedNormal(seed=s),
          I.glorot_uniform, I.glorot_normal, I.he_uniform, I.he_normal, I.lecun_uniform, I.lecun_normal,
          lambda s: I.Orthogonal(seed=s)]


@pytest.mark.parametrize("factory", SEEDED)
def test_seed_reproducible_and_advances(factory):
    a, b = factory(123), factory(123)
    first_a, first_b = a((6, 7)), b((6, 7))
    np.testing.assert_array_equal(first_a, first_b)           # same seed, same first draw
    second_a = a((6, 7))
    assert not np.array_equal(first_a, second_a)              # the seed moved on (Keras 2.3)
    assert a.seed == 125
    np.testing.assert_array_equal(second_a, factory(124)((6, 7)))
    assert not np.array_equal(first_a, factory(321)((6, 7)))  # another seed, other values


def test_unseeded_follows_numpy_global_seed():
    np.random.seed(42)
    a = I.glorot_uniform()((5, 5))
    b = I.glorot_uniform()((5, 5))
    np.random.seed(42)
    np.testing.assert_array_equal(I.glorot_uniform()((5, 5)), a)
    assert not np.array_equal(a, b)


def test_seed_same_values_across_dtypes():
    x32 = I.RandomNormal(seed=3)((4, 4), dtype="float32")
    x64 = I.RandomNormal(seed=3)((4, 4), dtype="float64")
    np.testing.assert_allclose(x32, x64, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("init", [I.Zeros(), I.Ones(), I.Constant(2), I.RandomNormal(seed=1),
                                  I.RandomUniform(seed=1), I.TruncatedNormal(seed=1), I.glorot_uniform(1),
                                  I.he_normal(1), I.Orthogonal(seed=1), I.Identity()])
def test_dtype(init, dtype):
    out = init((8, 8), dtype=dtype)
    assert out.dtype == np.dtype(dtype) and out.shape == (8, 8)
    assert np.all(np.isfinite(out))


def test_default_dtype_follows_floatx():
    K.set_floatx("float64")  # the conftest fixture restores it
    assert I.glorot_uniform(0)((3, 3)).dtype == np.float64
    assert I.Zeros()((3,)).dtype == np.float64


def test_unknown_dimension_rejected():
    with pytest.raises(ValueError):
        I.RandomNormal()((None, 3))


# ---------------------------------------------------------------------------------------------
# config round trips and get()


@pytest.mark.parametrize("init", [I.Zeros(), I.Ones(), I.Constant(1.5), I.RandomNormal(0.1, 0.2, 3),
                                  I.RandomUniform(-1, 2, 4), I.TruncatedNormal(0.3, 0.4, 5),
                                  I.VarianceScaling(2.0, "fan_out", "uniform", 6), I.Orthogonal(1.5, 7),
                                  I.Identity(0.5), I.glorot_normal(8)])
def test_config_round_trip(init):
    config = I.serialize(init)
    assert config["class_name"] == type(init).__name__
    clone = I.deserialize(config)
    assert type(clone) is type(init) and clone.get_config() == init.get_config()
    assert type(init).from_config(init.get_config()).get_config() == init.get_config()
    np.testing.assert_array_equal(clone((4, 5)), init((4, 5)))


def test_keras_config_values():
    assert I.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert I.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}
    assert I.glorot_uniform().get_config() == {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                               "seed": None}
    assert I.serialize(I.he_normal()) == {"class_name": "VarianceScaling", "config": {
        "scale": 2.0, "mode": "fan_in", "distribution": "normal", "seed": None}}
    assert I.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    assert I.Identity().get_config() == {"gain": 1.0}
    assert I.Constant().get_config() == {"value": 0}
    # tf.keras configs carry a dtype: ignored
    assert I.Zeros.from_config({"dtype": "float32"}).get_config() == {}


@pytest.mark.parametrize("name, cls", [("zeros", I.Zeros), ("Zeros", I.Zeros), ("ones", I.Ones),
                                       ("random_normal", I.RandomNormal), ("normal", I.RandomNormal),
                                       ("uniform", I.RandomUniform), ("TruncatedNormal", I.TruncatedNormal),
                                       ("orthogonal", I.Orthogonal), ("identity", I.Identity),
                                       ("glorot_uniform", I.VarianceScaling), ("he_normal", I.VarianceScaling),
                                       ("lecun_uniform", I.VarianceScaling), ("constant", I.Constant)])
def test_get_by_name_gives_instance(name, cls):
    init = I.get(name)
    assert type(init) is cls
    assert init((2, 3)).shape == (2, 3)


def test_get_glorot_uniform_settings():
    init = I.get("glorot_uniform")
    assert (init.scale, init.mode, init.distribution, init.seed) == (1.0, "fan_avg", "uniform", None)


def test_get_dict_callable_none_errors():
    init = I.get({"class_name": "RandomUniform", "config": {"minval": 0, "maxval": 1, "seed": 1}})
    assert isinstance(init, I.RandomUniform) and init.maxval == 1
    fn = lambda shape, dtype=None: np.full(shape, 7.0)  # noqa: E731
    assert I.get(fn) is fn
    assert I.get(None) is None
    with pytest.raises(ValueError):
        I.get("no_such_initializer")
    with pytest.raises(ValueError):
        I.get(42)
    with pytest.raises(ValueError):
        I.get("np")  # module internals are not resolvable by name
    with pytest.raises(ValueError):
        I.get({"class_name": "Zeros"})  # no config key


def test_custom_objects():
    class MyInit(I.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 9.0, dtype=dtype or "float32")

    config = I.serialize(MyInit())
    with pytest.raises(ValueError):
        I.deserialize(config)
    assert isinstance(I.deserialize(config, custom_objects={"MyInit": MyInit}), MyInit)
    with CustomObjectScope({"MyInit": MyInit}):
        assert isinstance(I.get("MyInit"), MyInit)


def test_base_initializer_not_implemented():
    with pytest.raises(NotImplementedError):
        I.Initializer()((2,))
