"""Every argument of fit/evaluate/predict, *_on_batch and *_generator is checked before any work
(issue 12, item 4): a bad value gets a TypeError or ValueError naming the argument and the value,
and the weights and optimizer state stay as they were. Accepted values follow Keras 2.3."""
import re

import numpy as np
import pytest

from keraslite.callbacks import Callback
from keraslite.engine import arguments
from keraslite.layers import Dense, Input
from keraslite.models import Model
from keraslite.optimizers import SGD, Adam
from keraslite.utils import Sequence


def _model(optimizer=None):
    inp = Input((3,), name="feat")
    out = Dense(2, name="out")(inp)
    model = Model(inp, out)
    model.compile(optimizer or Adam(0.01), loss="mse")
    return model


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def _snapshot(model):
    return [np.array(w, copy=True) for w in model.get_weights() + model.optimizer.get_weights()]


def _rejects(model, call, exc, *fragments):
    """`call()` raises `exc` whose message holds every fragment; no weight or optimizer variable
    changed."""
    before = _snapshot(model)
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    after = _snapshot(model)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    return message


@pytest.fixture
def trained(kbackend):
    """A model after one training step (so the optimizer has state), and its data."""
    model = _model()
    x, y = _data()
    model.train_on_batch(x, y)
    return model, x, y


# ------------------------------------------------------------------------------- batch_size

@pytest.mark.parametrize("value,exc", [(0, ValueError), (-4, ValueError), ("8", TypeError), (1.5, TypeError),
                                       (8.0, TypeError), (True, TypeError), ([8], TypeError)])
def test_bad_batch_size_everywhere(trained, value, exc):
    model, x, y = trained
    shown = repr(value)
    _rejects(model, lambda: model.fit(x, y, batch_size=value, verbose=0), exc, "fit", "batch_size", shown)
    _rejects(model, lambda: model.evaluate(x, y, batch_size=value, verbose=0), exc, "evaluate", "batch_size", shown)
    _rejects(model, lambda: model.predict(x, batch_size=value), exc, "predict", "batch_size", shown)


def test_batch_size_accepts_numpy_ints_and_none_means_32(trained):
    model, x, y = trained
    x, y = _data(70, seed=1)
    sizes = []

    class Sizes(Callback):
        def on_batch_end(self, batch, logs=None):
            sizes.append(logs["size"])
    model.fit(x, y, batch_size=None, epochs=1, verbose=0, shuffle=False, callbacks=[Sizes()])
    assert sizes == [32, 32, 6]
    sizes.clear()
    model.fit(x, y, batch_size=np.int64(50), epochs=np.int32(1), initial_epoch=np.int8(0), verbose=np.int64(0),
              callbacks=[Sizes()], shuffle=np.bool_(True))
    assert sizes == [50, 20]
    np.testing.assert_allclose(model.predict(x, batch_size=np.uint16(7)), model.predict(x, batch_size=70),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------- epochs, verbose, shuffle

@pytest.mark.parametrize("kwargs,exc,fragments", [
    ({"epochs": 1.5}, TypeError, ["epochs", "1.5"]),
    ({"epochs": "2"}, TypeError, ["epochs", "'2'"]),
    ({"epochs": True}, TypeError, ["epochs", "True"]),
    ({"epochs": -1}, ValueError, ["epochs", "-1"]),
    ({"epochs": 2, "initial_epoch": -1}, ValueError, ["initial_epoch", "-1"]),
    ({"epochs": 2, "initial_epoch": 3}, ValueError, ["initial_epoch", "3"]),
    ({"epochs": 2, "initial_epoch": 0.5}, TypeError, ["initial_epoch", "0.5"]),
    ({"verbose": 3}, ValueError, ["verbose", "3"]),
    ({"verbose": "1"}, TypeError, ["verbose", "'1'"]),
    ({"shuffle": "yes"}, ValueError, ["shuffle", "'yes'"]),
    ({"shuffle": 1}, TypeError, ["shuffle", "1"]),
    ({"shuffle": None}, TypeError, ["shuffle", "None"]),
    ({"callbacks": Callback()}, TypeError, ["callbacks"]),
    ({"callbacks": ["early"]}, TypeError, ["callbacks", "'early'"]),
    ({"validation_freq": 0}, ValueError, ["validation_freq", "0"]),
    ({"validation_freq": [1, "2"]}, TypeError, ["validation_freq", "'2'"]),
])
def test_bad_fit_scalars(trained, kwargs, exc, fragments):
    model, x, y = trained
    kwargs.setdefault("verbose", 0)
    _rejects(model, lambda: model.fit(x, y, **kwargs), exc, "fit", *fragments)


def test_accepted_fit_scalars(trained, capsys):
    model, x, y = trained
    hist = model.fit(x, y, epochs=3, initial_epoch=3, verbose=0)  # nothing left to train: Keras 2.3 allows it
    assert hist.epoch == []
    hist = model.fit(x, y, epochs=2, verbose=True, shuffle="batch", batch_size=8)
    assert hist.epoch == [0, 1]
    assert "Epoch 1/2" in capsys.readouterr().out


# ------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("split,exc", [(1.5, ValueError), (-0.1, ValueError), (1.0, ValueError),
                                       (float("nan"), ValueError), ("0.2", TypeError), (True, TypeError)])
def test_bad_validation_split(trained, split, exc):
    model, x, y = trained
    _rejects(model, lambda: model.fit(x, y, validation_split=split, verbose=0), exc, "validation_split",
             repr(split))


def test_validation_split_must_leave_training_and_validation_samples(trained):
    model, _, _ = trained
    x, y = _data(64)
    _rejects(model, lambda: model.fit(x, y, validation_split=0.999, verbose=0), ValueError,
             "validation_split", "0.999", "no training samples", "64")
    _rejects(model, lambda: model.fit(x, y, validation_split=1e-17, verbose=0), ValueError,
             "validation_split", "1e-17", "no validation samples")
    hist = model.fit(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert hist.params["samples"] == 48 and "val_loss" in hist.history


@pytest.mark.parametrize("bad,exc,fragment", [
    ("nope", ValueError, "validation_data"), ((np.zeros((4, 3)),), ValueError, "validation_data"),
    ((np.zeros((4, 3)), np.zeros((4, 2)), None, None), ValueError, "validation_data"),
    ((np.zeros((4, 3), complex), np.zeros((4, 2))), TypeError, "validation_data[0]"),
    ((np.zeros((4, 3)), np.array([["a", "b"]] * 4)), TypeError, "validation_data[1]"),
    ((np.zeros((0, 3)), np.zeros((0, 2))), ValueError, "validation_data[0]"),
    ((b for b in [(np.zeros((4, 3)), np.zeros((4, 2)))]), ValueError, "validation_steps"),
])
def test_bad_validation_data(trained, bad, exc, fragment):
    model, x, y = trained
    _rejects(model, lambda: model.fit(x, y, validation_data=bad, verbose=0), exc, "fit", fragment)


def test_validation_freq(trained):
    model, x, y = trained
    hist = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(hist.history["loss"]) == 4 and len(hist.history["val_loss"]) == 2
    hist = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=[1, 4], verbose=0)
    assert len(hist.history["val_loss"]) == 2
    np.testing.assert_allclose(hist.history["val_loss"][-1], model.evaluate(x, y, verbose=0), rtol=1e-5)


# ------------------------------------------------------------------------------- steps with arrays

def test_steps_per_epoch_with_arrays_feeds_the_whole_arrays_each_step(kbackend):
    x, y = _data(12)
    a, b = _model(SGD(0.1)), _model(SGD(0.1))
    b.set_weights(a.get_weights())
    sizes = []

    class Sizes(Callback):
        def on_batch_end(self, batch, logs=None):
            sizes.append(logs["size"])
    hist = a.fit(x, y, steps_per_epoch=3, epochs=1, verbose=0, callbacks=[Sizes()])
    for _ in range(3):
        b.train_on_batch(x, y)
    assert sizes == [1, 1, 1] and hist.params["steps"] == 3
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    # evaluate and predict with steps: the whole arrays per step (Keras 2.3)
    np.testing.assert_allclose(a.evaluate(x, y, steps=2, verbose=0), a.test_on_batch(x, y), rtol=1e-6)
    p = a.predict(x, steps=2)
    np.testing.assert_allclose(p, np.concatenate([a.predict_on_batch(x)] * 2), rtol=1e-6)


def test_step_arguments(trained):
    model, x, y = trained
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=0, verbose=0), ValueError, "steps_per_epoch", "0")
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=2.0, verbose=0), TypeError, "steps_per_epoch", "2.0")
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=2, batch_size=4, verbose=0), ValueError,
             "batch_size", "steps_per_epoch")
    _rejects(model, lambda: model.fit(x, y, validation_steps=2, validation_data=(x, y), verbose=0), ValueError,
             "validation_steps", "steps_per_epoch")
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=2, validation_data=(x, y), verbose=0), ValueError,
             "validation_steps")
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=2, validation_steps=1, verbose=0), ValueError,
             "validation_steps", "no validation data")
    _rejects(model, lambda: model.fit(x, y, steps_per_epoch=2, validation_steps=-1, validation_data=(x, y),
                                      verbose=0), ValueError, "validation_steps", "-1")
    _rejects(model, lambda: model.evaluate(x, y, steps=0, verbose=0), ValueError, "evaluate", "steps", "0")
    _rejects(model, lambda: model.evaluate(x, y, steps=2, batch_size=4, verbose=0), ValueError, "batch_size")
    _rejects(model, lambda: model.predict(x, steps="2"), TypeError, "predict", "steps", "'2'")
    hist = model.fit(x, y, steps_per_epoch=2, validation_data=(x, y), validation_steps=1, epochs=1, verbose=0)
    np.testing.assert_allclose(hist.history["val_loss"][0], model.test_on_batch(x, y), rtol=1e-5)


# ------------------------------------------------------------------------------- data dtypes and sizes

BAD_DTYPES = [
    (lambda x: x.astype(np.complex64) + 1j, "complex"),
    (lambda x: x.astype(object), "object"),
    (lambda x: x.astype(str), "string"),
    (lambda x: x.astype(bytes), "bytes"),
]


@pytest.mark.parametrize("convert,word", BAD_DTYPES)
def test_non_real_data_is_a_type_error_everywhere(trained, convert, word):
    model, x, y = trained
    bx, by = convert(x), convert(y)
    calls = [
        (lambda: model.fit(bx, y, verbose=0), "x"), (lambda: model.fit(x, by, verbose=0), "y"),
        (lambda: model.fit({"feat": bx}, y, verbose=0), "x['feat']"),
        (lambda: model.fit([bx], y, verbose=0), "x[0]"),
        (lambda: model.evaluate(bx, y, verbose=0), "x"), (lambda: model.evaluate(x, by, verbose=0), "y"),
        (lambda: model.predict(bx), "x"),
        (lambda: model.train_on_batch(bx, y), "x"), (lambda: model.train_on_batch(x, by), "y"),
        (lambda: model.test_on_batch(x, by), "y"), (lambda: model.predict_on_batch(bx), "x"),
        (lambda: model.fit(x, y, sample_weight=convert(np.ones(len(x))), verbose=0), "sample_weight"),
    ]
    for call, name in calls:
        message = _rejects(model, call, TypeError, f"`{name}`", "dtype")
        assert "real numbers" in message


def test_plain_lists_and_bools_are_accepted(trained):
    model, x, y = trained
    model.fit(x.tolist(), y.tolist(), verbose=0, epochs=1)
    model.train_on_batch(x > 0, y)
    model.predict(x.astype(np.int32))


def test_empty_data_is_an_error_everywhere(trained):
    model, x, y = trained
    ex, ey = x[:0], y[:0]
    for call in (lambda: model.fit(ex, ey, verbose=0), lambda: model.evaluate(ex, ey, verbose=0),
                 lambda: model.predict(ex), lambda: model.train_on_batch(ex, ey),
                 lambda: model.test_on_batch(ex, ey), lambda: model.predict_on_batch(ex)):
        _rejects(model, call, ValueError, "`x`", "no samples", "(0, 3)")
    _rejects(model, lambda: model.fit(x, ey, verbose=0), ValueError, "`y`", "no samples")
    _rejects(model, lambda: model.fit(None, y, verbose=0), ValueError, "`x`")


def test_ragged_lists_are_a_value_error(trained):
    model, x, y = trained
    _rejects(model, lambda: model.predict([[1.0, 2.0, 3.0], [1.0]]), ValueError, "predict", "input list")
    _rejects(model, lambda: model.predict([[1.0, 2.0, 3.0], ["a"]]), TypeError, "predict", "`x[1]`", "strings")


# ------------------------------------------------------------------------------- weights

@pytest.mark.parametrize("cw,exc,fragments", [
    ("balanced", TypeError, ["class_weight", "'balanced'"]),
    ({0: "2"}, TypeError, ["class_weight", "'2'"]),
    ({"a": 1.0}, ValueError, ["class_weight", "'a'"]),
    ({0: float("nan"), 1: 1.0}, ValueError, ["class_weight", "nan"]),
    ({0: 1j}, TypeError, ["class_weight", "1j"]),
    ([{0: 1.0}, 3], TypeError, ["class_weight", "3"]),
])
def test_bad_class_weight(trained, cw, exc, fragments):
    model, x, y = trained
    labels = (x[:, 0] > 0).astype("float32")
    _rejects(model, lambda: model.fit(x, np.stack([labels, labels], 1), class_weight=cw, verbose=0), exc,
             *fragments)
    _rejects(model, lambda: model.train_on_batch(x, np.stack([labels, labels], 1), class_weight=cw), exc,
             *fragments)


def test_class_weight_forms_accepted(trained):
    model, x, _ = trained
    onehot = np.eye(2, dtype="float32")[(x[:, 0] > 0).astype(int)]
    model.fit(x, onehot, class_weight={0: 1.0, 1: np.float32(2.0)}, verbose=0)
    model.fit(x, onehot, class_weight={np.int64(0): 1, 1.0: 2}, verbose=0)
    model.fit(x, onehot, class_weight={}, verbose=0)  # Keras 2.3: no weighting
    # by output name, one output too (Keras 2.3): the same as the plain dict
    a, opt = model.get_weights(), model.optimizer.get_weights()
    model.train_on_batch(x, onehot, class_weight={"out": {0: 1.0, 1: 3.0}})
    by_name = model.get_weights()
    model.set_weights(a)
    model.optimizer.set_weights(opt)
    model.train_on_batch(x, onehot, class_weight={0: 1.0, 1: 3.0})
    for u, v in zip(by_name, model.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)


# ------------------------------------------------------------------------------- generators

class _Batches(Sequence):
    def __init__(self, x, y, n=2):
        self.x, self.y, self.n = x, y, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.x, self.y


def _gen(x, y):
    while True:
        yield x, y


def test_bad_generator_arguments(trained):
    model, x, y = trained
    seq = _Batches(x, y)
    cases = [
        (lambda: model.fit_generator([(x, y)], steps_per_epoch=1), TypeError, ["generator", "list"]),
        (lambda: model.fit_generator(_gen, steps_per_epoch=1), TypeError, ["generator", "call the generator"]),
        (lambda: model.fit_generator(_gen(x, y)), ValueError, ["steps_per_epoch=None", "Sequence"]),
        (lambda: model.fit_generator(seq, steps_per_epoch=0), ValueError, ["steps_per_epoch", "0"]),
        (lambda: model.fit_generator(seq, epochs=1.5), TypeError, ["epochs", "1.5"]),
        (lambda: model.fit_generator(seq, initial_epoch=2), ValueError, ["initial_epoch", "2"]),
        (lambda: model.fit_generator(seq, verbose=5), ValueError, ["verbose", "5"]),
        (lambda: model.fit_generator(seq, shuffle="no"), ValueError, ["shuffle", "'no'"]),
        (lambda: model.fit_generator(seq, workers=-1), ValueError, ["workers", "-1"]),
        (lambda: model.fit_generator(seq, max_queue_size=0), ValueError, ["max_queue_size", "0"]),
        (lambda: model.fit_generator(seq, use_multiprocessing="no"), TypeError, ["use_multiprocessing", "'no'"]),
        (lambda: model.fit_generator(seq, class_weight=[1]), TypeError, ["class_weight", "1"]),
        (lambda: model.fit_generator(seq, validation_data=_gen(x, y)), ValueError, ["validation_steps"]),
        (lambda: model.fit_generator(seq, validation_data=(x,)), ValueError, ["validation_data"]),
        (lambda: model.fit_generator(seq, bogus=1), TypeError, ["bogus"]),
        (lambda: model.fit_generator(_Batches(x, y, 0)), ValueError, ["empty"]),
        (lambda: model.evaluate_generator(seq, steps=-1), ValueError, ["evaluate_generator", "steps", "-1"]),
        (lambda: model.evaluate_generator(_gen(x, y)), ValueError, ["steps=None", "Sequence"]),
        (lambda: model.evaluate_generator(seq, workers=1.0), TypeError, ["workers", "1.0"]),
        (lambda: model.predict_generator(seq, steps="1"), TypeError, ["predict_generator", "steps", "'1'"]),
        (lambda: model.predict_generator(42, steps=1), TypeError, ["generator", "int"]),
        (lambda: model.predict_generator(seq, verbose=-1), ValueError, ["verbose", "-1"]),
        (lambda: model.predict_generator(seq, bogus=1), TypeError, ["bogus"]),
    ]
    for call, exc, fragments in cases:
        _rejects(model, call, exc, *fragments)


def test_a_bad_batch_from_a_generator_changes_nothing(trained):
    model, x, y = trained
    _rejects(model, lambda: model.fit_generator(_gen(x.astype(complex), y), steps_per_epoch=2), TypeError, "`x`")


def test_good_generator_calls(trained):
    model, x, y = trained
    hist = model.fit_generator(_Batches(x, y), epochs=np.int64(2), validation_data=_Batches(x, y),
                               validation_freq=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and len(hist.history["val_loss"]) == 1
    np.testing.assert_allclose(model.evaluate_generator(_gen(x, y), steps=np.int32(2)), model.test_on_batch(x, y),
                               rtol=1e-5)
    assert model.predict_generator(_Batches(x, y)).shape == (2 * len(x), 2)


def test_generator_or_sequence_as_x_passes_the_checks(trained):
    """fit/evaluate/predict take a generator or Sequence for x (Keras 2.3): the checks accept it
    with steps and reject what cannot go with it."""
    model, x, y = trained
    seq = _Batches(x, y)
    assert arguments.fit(model, seq, None, None, 1, 0, None, 0.0, None, True, None, None, 0, None, None) is None
    assert arguments.evaluate(model, _gen(x, y), None, None, 0, None, 2) is None
    assert arguments.predict(model, seq, None, 0, None) is None
    for call, fragment in [
        (lambda: arguments.fit(model, seq, y, None, 1, 0, None, 0.0, None, True, None, None, 0, None, None), "`y`"),
        (lambda: arguments.fit(model, seq, None, 8, 1, 0, None, 0.0, None, True, None, None, 0, None, None),
         "batch_size"),
        (lambda: arguments.fit(model, seq, None, None, 1, 0, None, 0.2, None, True, None, None, 0, None, None),
         "validation_split"),
        (lambda: arguments.evaluate(model, seq, None, None, 0, np.ones(3), None), "sample_weight"),
    ]:
        with pytest.raises(ValueError, match=re.escape(fragment)):
            call()


def test_static_batch_size_of_the_input_layer(kbackend):
    inp = Input(batch_shape=(5, 3))
    model = Model(inp, Dense(2)(inp))
    model.compile("sgd", "mse")
    x, y = _data(10)
    model.fit(x, y, verbose=0)  # batch_size None: the input layer's 5
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=4, verbose=0)
