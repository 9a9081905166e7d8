"""fit/evaluate/predict on Python generators and Sequences (tf.keras style), with workers in
threads or processes: same results as arrays, the generator's own errors, no leftover workers."""
import multiprocessing
import os
import threading
import traceback

import numpy as np
import pytest

from keraslite.callbacks import Callback
from keraslite.layers import Dense
from keraslite.models import Sequential
from keraslite.optimizers import SGD
from keraslite.utils import Sequence
from keraslite.utils.data_utils import GeneratorEnqueuer, OrderedEnqueuer

pytestmark = pytest.mark.usefixtures("kbackend")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(40, 4)).astype("float32")
Y = RNG.normal(size=(40, 2)).astype("float32")
MODES = [dict(workers=0), dict(workers=1), dict(workers=3), dict(workers=2, use_multiprocessing=True)]
MODE_IDS = ["main-thread", "1-thread", "3-threads", "2-processes"]


def batches_forever(x=X, y=Y, size=10):
    while True:
        for i in range(0, len(x), size):
            yield x[i:i + size], y[i:i + size]


class Batches(Sequence):
    def __init__(self, x=X, y=Y, size=10):
        self.x, self.y, self.size = x, y, size
        self.epochs_ended = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / self.size))

    def __getitem__(self, i):
        return self.x[i * self.size:(i + 1) * self.size], self.y[i * self.size:(i + 1) * self.size]

    def on_epoch_end(self):
        self.epochs_ended += 1


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential([Dense(3, activation="tanh", input_shape=(4,)), Dense(2)])
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in model.get_weights()])
    model.compile(SGD(lr=0.05, momentum=0.5), "mse", metrics=["mae"])
    return model


def _os_children() -> int:
    """Processes whose parent is this one (Linux /proc; 0 elsewhere): also counts helpers that
    multiprocessing does not list."""
    me, count = os.getpid(), 0
    if not os.path.isdir("/proc"):
        return 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += int(fields[1]) == me
    return count


def workers_alive():
    names = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
    return names, len(multiprocessing.active_children()), _os_children()


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("source", ["generator", "sequence"])
def test_fit_on_generator_equals_fit_on_arrays(mode, source):
    before = workers_alive()
    ref = make_model()
    ref_hist = ref.fit(X, Y, batch_size=10, epochs=3, shuffle=False, verbose=0, validation_data=(X[:20], Y[:20]))
    model = make_model()
    data = batches_forever() if source == "generator" else Batches()
    val = batches_forever(X[:20], Y[:20]) if source == "generator" else Batches(X[:20], Y[:20])
    hist = model.fit(data, steps_per_epoch=4, epochs=3, shuffle=False, verbose=0, validation_data=val,
                     validation_steps=2, **mode)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key in ("loss", "val_loss", "val_mean_absolute_error"):
        if key in ref_hist.history:
            np.testing.assert_allclose(hist.history[key], ref_hist.history[key], rtol=1e-5)
    assert workers_alive() == before


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_evaluate_and_predict_on_generators(mode):
    model = make_model()
    expected = model.evaluate(X, Y, batch_size=10, verbose=0)
    np.testing.assert_allclose(model.evaluate(Batches(), verbose=0, **mode), expected, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(batches_forever(), steps=4, verbose=0, **mode), expected, rtol=1e-5)
    np.testing.assert_allclose(model.predict(Batches(), **mode), model.predict(X), rtol=1e-5, atol=1e-6)
    # a finite generator without `steps` is read to its end (tf.keras)
    finite = (X[i:i + 7] for i in range(0, 40, 7))
    np.testing.assert_allclose(model.predict(finite, **mode), model.predict(X), rtol=1e-5, atol=1e-6)
    # the *_generator methods stay
    np.testing.assert_allclose(model.evaluate_generator(Batches(), **mode), expected, rtol=1e-5)
    np.testing.assert_allclose(model.predict_generator(batches_forever(), steps=4, **mode), model.predict(X),
                               rtol=1e-5, atol=1e-6)


def test_sequence_shuffle_sees_every_batch_once_per_epoch():
    seen = []

    class Recording(Batches):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    seq = Recording()
    np.random.seed(3)
    make_model().fit(seq, epochs=3, verbose=0, workers=2, shuffle=True)
    assert sorted(seen[:4]) == [0, 1, 2, 3] and sorted(seen[4:8]) == [0, 1, 2, 3]
    assert seq.epochs_ended >= 2  # after each full pass (the prefetcher may have finished a third)


def test_queue_is_bounded():
    produced = [0]

    def counting():
        for item in batches_forever():
            produced[0] += 1
            yield item

    make_model().fit(counting(), steps_per_epoch=3, epochs=1, verbose=0, workers=1, max_queue_size=2)
    # 3 consumed + at most 2 waiting in the queue + 1 held by the producer
    assert 3 <= produced[0] <= 6


def broken_generator():
    yield X[:10], Y[:10]
    yield X[10:20], Y[10:20]
    raise KeyError("broken batch 3")


@pytest.mark.parametrize("mode", MODES[:2] + MODES[3:], ids=["main-thread", "1-thread", "2-processes"])
def test_generator_error_keeps_its_type_and_traceback(mode):
    before = workers_alive()
    model = make_model()
    with pytest.raises(KeyError, match="broken batch 3") as info:
        model.fit(broken_generator(), steps_per_epoch=4, epochs=2, verbose=0, **mode)
    if mode.get("use_multiprocessing"):
        # frames cannot leave the worker process: its traceback text is the cause
        assert "broken_generator" in str(info.value.__cause__)
    else:
        frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        assert frames[-1] == "broken_generator"
    assert workers_alive() == before


class BrokenSequence(Batches):
    def __getitem__(self, i):
        if i == 2:
            raise IndexError("no batch 2 here")
        return super().__getitem__(i)


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_sequence_error_and_no_leftover_workers(mode):
    before = workers_alive()
    with pytest.raises(IndexError, match="no batch 2 here") as info:
        make_model().fit(BrokenSequence(), epochs=1, shuffle=False, verbose=0, **mode)
    if not mode.get("use_multiprocessing"):
        assert traceback.extract_tb(info.value.__traceback__)[-1].name == "__getitem__"
    assert workers_alive() == before


class Interrupt(Callback):
    def on_batch_end(self, batch, logs=None):
        if batch == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("source", ["generator", "sequence"])
def test_interruption_leaves_no_workers(mode, source):
    before = workers_alive()
    data = batches_forever() if source == "generator" else Batches()
    with pytest.raises(KeyboardInterrupt):
        make_model().fit(data, steps_per_epoch=4, epochs=2, verbose=0, callbacks=[Interrupt()],
                         max_queue_size=1, **mode)
    assert workers_alive() == before


def test_enqueuers_directly():
    before = workers_alive()
    enq = OrderedEnqueuer(Batches(), use_multiprocessing=False, shuffle=False)
    enq.start(workers=2, max_queue_size=3)
    out = enq.get()
    got = [next(out)[0] for _ in range(5)]
    enq.stop()
    np.testing.assert_array_equal(got[4], X[:10])  # order kept across the epoch boundary
    assert not enq.is_running()
    g = GeneratorEnqueuer(batches_forever(), use_multiprocessing=True)
    g.start(workers=1, max_queue_size=2)
    it = g.get()
    np.testing.assert_array_equal(next(it)[0], X[:10])
    np.testing.assert_array_equal(next(it)[0], X[10:20])
    g.stop()
    assert workers_alive() == before


def test_generator_argument_errors():
    model = make_model()
    with pytest.raises(ValueError, match="`steps_per_epoch=None` is only valid for a generator based on the "
                                         "`keras.utils.Sequence` class"):
        model.fit_generator(batches_forever(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`y` is not supported when x is a generator"):
        model.fit(batches_forever(), Y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(Batches(), validation_data=batches_forever(), verbose=0)
    with pytest.raises(ValueError, match="workers"):
        model.fit(Batches(), workers=-1, verbose=0)
    with pytest.raises(ValueError, match="output of generator should be a tuple"):
        model.fit((x for x in [X[:10]] * 3), steps_per_epoch=2, verbose=0)


def test_generator_running_out_stops_training_with_a_warning():
    model = make_model()
    finite = ((X[i:i + 10], Y[i:i + 10]) for i in range(0, 40, 10))
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = model.fit(finite, steps_per_epoch=3, epochs=5, verbose=0)
    assert len(hist.history["loss"]) == 2  # 3 batches, then 1 batch, then nothing


@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_fit_arrays_with_generator_validation(shuffle):
    ref, model = make_model(), make_model()
    np.random.seed(5)
    ref_hist = ref.fit(X, Y, batch_size=8, epochs=3, shuffle=shuffle, verbose=0, validation_data=(X[:20], Y[:20]))
    np.random.seed(5)
    hist = model.fit(X, Y, batch_size=8, epochs=3, shuffle=shuffle, verbose=0,
                     validation_data=batches_forever(X[:20], Y[:20]), validation_steps=2)
    np.testing.assert_allclose(hist.history["loss"], ref_hist.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(hist.history["val_loss"], ref_hist.history["val_loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_on_finite_generator_without_steps_runs_to_its_end():
    ref, model = make_model(), make_model()
    ref_hist = ref.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    finite = ((X[i:i + 10], Y[i:i + 10]) for i in range(0, 40, 10))
    hist = model.fit(finite, epochs=1, verbose=0)
    np.testing.assert_allclose(hist.history["loss"], ref_hist.history["loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    finite = ((X[i:i + 10], Y[i:i + 10]) for i in range(0, 40, 10))
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = make_model().fit(finite, epochs=3, verbose=0)
    assert len(hist.history["loss"]) == 1


class Shifting(Sequence):
    """Each epoch's batches carry the epoch number: on_epoch_end must reach the workers."""

    def __init__(self):
        self.epoch = 0

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return np.full((2, 1), 10 * self.epoch + i, "float32")

    def on_epoch_end(self):
        self.epoch += 1


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_on_epoch_end_changes_reach_the_workers(mode):
    model = Sequential([Dense(1, input_shape=(1,), use_bias=False, kernel_initializer="ones")])
    out = model.predict_generator(Shifting(), steps=6, **mode)
    np.testing.assert_array_equal(out[::2, 0], [0, 1, 10, 11, 20, 21])
