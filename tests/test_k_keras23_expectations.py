"""Where Keras 2.3's own backend expectations are TensorFlow-session or Theano specific, keraslite
answers with a clear error that says what to write instead (see docs/porting.md)."""
import numpy as np
import pytest

from keraslite import backend as K


@pytest.mark.parametrize("kwarg", ["fetches", "feed_dict", "options", "run_metadata"])
def test_function_session_run_arguments_are_named(kwarg):
    x = K.placeholder(shape=())
    y = K.variable(0.0)
    value = {"fetches": [K.update(y, 5.0)], "feed_dict": {x: 3.0}}.get(kwarg, object())
    with pytest.raises(ValueError, match=rf"{kwarg}.*tf\.Session\.run.*updates"):
        K.function([x], [x + 1.0], **{kwarg: value})
    assert float(K.get_value(y)) == 0.0  # nothing ran


def test_function_other_unknown_keyword_still_rejected():
    x = K.placeholder(shape=())
    with pytest.raises(ValueError, match="unexpected keyword arguments.*'colour'"):
        K.function([x], [x], colour=1)


def test_function_updates_replace_fetches(kbackend):
    # what the message advises: the fetched update op becomes an update of the function
    x = K.placeholder(shape=())
    y = K.variable(0.0)
    f = K.function([x], [x * 2.0], updates=[K.update(y, x * 10.0)])
    np.testing.assert_allclose(f([np.float32(1.5)])[0], 3.0)
    np.testing.assert_allclose(K.get_value(y), 15.0)


def test_placeholder_of_unknown_rank_explains_tuple():
    # Keras 2 code often writes shape=(None) meaning a vector: that is shape=None
    with pytest.raises(ValueError, match=r"unknown rank.*\(None,\)"):
        K.placeholder(shape=(None), dtype="int64")


def test_placeholder_one_dim_with_tuple_is_fed_any_length(kbackend):
    x = K.placeholder(shape=(None,), dtype="int64")
    f = K.function([x], [x * 2])
    np.testing.assert_array_equal(f([np.array([1, 2, 3])])[0], [2, 4, 6])


def test_activation_get_warns_for_a_layer_instance_and_returns_it():
    from keraslite import activations
    from keraslite.layers import Dense, LeakyReLU
    for layer in (Dense(4), LeakyReLU(0.2)):
        with pytest.warns(UserWarning, match=type(layer).__name__):
            assert activations.get(layer) is layer


def test_activation_get_plain_callable_does_not_warn():
    import warnings
    from keraslite import activations

    def fn(x):
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert activations.get(fn) is fn
        assert activations.get("relu") is activations.relu
