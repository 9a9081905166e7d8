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


def _nested_twice(layer_factory):
    from keraslite.layers import Average, Input
    from keraslite.models import Model
    inner_in = Input(shape=(5,))
    layer = layer_factory()
    inner = Model(inner_in, layer(inner_in))
    a, b = Input(shape=(5,)), Input(shape=(5,))
    outer = Model([a, b], Average()([inner(a), inner(b)]))
    return layer, inner, outer


def test_model_called_twice_counts_each_regularisation_once(kbackend):
    # Keras 2.3: one kernel penalty (shared weights) plus one activity penalty per call
    from keraslite import regularizers
    from keraslite.layers import Dense
    layer, inner, outer = _nested_twice(lambda: Dense(
        2, kernel_regularizer=regularizers.l1(0.1), activity_regularizer=regularizers.l2(0.01)))
    assert len(outer.losses) == 3
    assert len(layer._inbound_nodes) == 3  # its own model's call, then one per outer call
    xa = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    xb = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    w, bias = (np.asarray(v) for v in layer.get_weights())
    want = 0.1 * np.abs(w).sum() + sum(0.01 * np.square(x @ w + bias).sum() for x in (xa, xb))
    f = K.function(outer.inputs, [sum(outer.losses)])
    np.testing.assert_allclose(f([xa, xb])[0], want, rtol=1e-5)


def test_model_called_twice_adds_one_update_set_per_call():
    from keraslite.layers import BatchNormalization
    layer, inner, outer = _nested_twice(BatchNormalization)
    per_call = len(layer.get_updates_for(inner.inputs))
    assert per_call == 2  # moving mean and moving variance
    assert len(outer.updates) == 2 * per_call


def test_model_masks_still_flow_through_a_nested_model():
    from keraslite.layers import Embedding, Input, LSTM
    from keraslite.models import Model
    i = Input(shape=(3,))
    emb = Embedding(5, 2, mask_zero=True)
    inner = Model(i, emb(i))
    j = Input(shape=(3,))
    e = inner(j)
    assert e._keras_mask is not None
    out = Model(j, LSTM(2)(e))
    x = np.array([[1, 2, 0], [3, 0, 0]])
    before = out.predict(x)
    table = emb.get_weights()[0].copy()
    table[0] += 5.0  # the padding row: masked steps must not see it
    emb.set_weights([table])
    np.testing.assert_allclose(out.predict(x), before, rtol=1e-6)


def test_root_mean_squared_error_over_batches_with_weights(kbackend):
    from keraslite import metrics
    rng = np.random.default_rng(3)
    t, p = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    w = rng.uniform(0, 2, size=12)
    m = metrics.RootMeanSquaredError()
    assert m.name == "root_mean_squared_error"
    for s in (slice(0, 5), slice(5, 12)):
        K.batch_get_value(m.update_state(t[s], p[s], sample_weight=w[s]))
    sq = (p - t) ** 2
    want = np.sqrt((sq * w[:, None]).sum() / (3 * w.sum()))
    np.testing.assert_allclose(K.eval(m.result()), want, rtol=1e-5)
    m.reset_states()
    K.batch_get_value(m.update_state(t, p))
    np.testing.assert_allclose(K.eval(m.result()), np.sqrt(sq.mean()), rtol=1e-5)


def test_root_mean_squared_error_config_and_fit(kbackend):
    from keraslite import metrics
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    m = metrics.RootMeanSquaredError(name="rmse", dtype="float64")
    again = metrics.RootMeanSquaredError.from_config(m.get_config())
    assert (again.name, again.dtype) == ("rmse", "float64")
    assert type(metrics.deserialize(metrics.serialize(m))) is metrics.RootMeanSquaredError
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=[metrics.RootMeanSquaredError()])
    loss, rmse = model.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(rmse, np.sqrt(np.mean((model.predict(x) - y) ** 2)), rtol=1e-5)


@pytest.mark.parametrize("wshape", [(4,), (4, 1), (4, 3), ()])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_loss_object_sample_weight_shapes(kbackend, wshape, reduction):
    # Keras 2.3: per-sample losses (4,) weighted by (4,), (4, 1) - its last axis dropped - or a scalar;
    # elementwise losses (4, 3) by weights of that shape
    from keraslite import losses
    rng = np.random.default_rng(5)
    t, p = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    w = rng.uniform(0.5, 2, size=wshape).astype("float32")
    per_sample = ((p - t) ** 2).mean(-1)
    if wshape == (4, 3):
        obj = losses.LossFunctionWrapper(lambda a, b: K.square(b - a), reduction=reduction)
        weighted = (p - t) ** 2 * w
    else:
        obj = losses.MeanSquaredError(reduction=reduction)
        weighted = per_sample * (w.reshape(-1) if w.ndim else w)
    got = K.eval(obj(K.constant(t), K.constant(p), sample_weight=K.constant(w)))
    want = {"none": weighted, "sum": weighted.sum(), "sum_over_batch_size": weighted.mean()}[reduction]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_loss_object_sample_weight_of_wrong_rank_is_named():
    from keraslite import losses
    with pytest.raises(ValueError, match="sample_weight of shape"):
        losses.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 3)), sample_weight=np.ones((4, 2, 2)))


@pytest.mark.parametrize("thresholds", [[None], [0.5, None], [-1, 0.5, 2], 1.5])
def test_confusion_metric_thresholds_outside_unit_interval_rejected(thresholds):
    from keraslite import metrics
    for cls in (metrics.FalsePositives, metrics.TruePositives, metrics.Precision, metrics.Recall):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cls(thresholds=thresholds)


def _np_rate_at(t, p, w, value, n, sens_at_spec):
    """Brute force: counts at each of n thresholds, pick the first closest given rate."""
    thr = [0.5] if n == 1 else [0.0] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1.0]
    rows = []
    for h in thr:
        pos = p > h
        tp, fn = (w * (t == 1) * pos).sum(), (w * (t == 1) * ~pos).sum()
        tn, fp = (w * (t == 0) * ~pos).sum(), (w * (t == 0) * pos).sum()
        rows.append((tp, fn, tn, fp))
    rows = np.array(rows, dtype="float64")

    def rate(a, b):
        return np.where(a + b > 0, a / np.where(a + b > 0, a + b, 1), 0.0)

    sens, spec = rate(rows[:, 0], rows[:, 1]), rate(rows[:, 2], rows[:, 3])
    given, other = (spec, sens) if sens_at_spec else (sens, spec)
    return other[int(np.argmin(np.abs(given - value)))]


@pytest.mark.parametrize("n", [1, 2, 7, 200])
@pytest.mark.parametrize("value", [0.0, 0.4, 0.8, 1.0])
def test_sensitivity_specificity_at_value(kbackend, n, value):
    from keraslite import metrics
    rng = np.random.default_rng(n)
    t = rng.integers(0, 2, size=(30, 1)).astype("float32")
    p = np.clip(t * 0.3 + rng.uniform(0, 0.7, size=(30, 1)), 0, 1).astype("float32")
    w = rng.uniform(0, 2, size=(30, 1)).astype("float32")
    for cls, sens_at_spec in ((metrics.SensitivityAtSpecificity, True), (metrics.SpecificityAtSensitivity, False)):
        m = cls(value, num_thresholds=n)
        for s in (slice(0, 12), slice(12, 30)):
            K.batch_get_value(m.update_state(t[s], p[s], sample_weight=w[s]))
        np.testing.assert_allclose(K.eval(m.result()), _np_rate_at(t, p, w, value, n, sens_at_spec), rtol=1e-5)


def test_sensitivity_specificity_config_and_bad_arguments():
    from keraslite import metrics
    m = metrics.SensitivityAtSpecificity(0.3, num_thresholds=50, name="s")
    again = metrics.deserialize(metrics.serialize(m))
    assert type(again) is metrics.SensitivityAtSpecificity
    assert (again.specificity, again.num_thresholds, again.name) == (0.3, 50, "s")
    assert metrics.SpecificityAtSensitivity(0.7).get_config()["sensitivity"] == 0.7
    with pytest.raises(ValueError, match="specificity"):
        metrics.SensitivityAtSpecificity(1.5)
    with pytest.raises(ValueError, match="sensitivity"):
        metrics.SpecificityAtSensitivity(-0.1)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.SpecificityAtSensitivity(0.5, num_thresholds=0)


def _two_output_model():
    from keraslite.layers import Dense, Input
    from keraslite.models import Model
    a = Input(shape=(1,), name="in_a")
    shared = Dense(3, kernel_initializer="ones", trainable=False)
    h = shared(a)
    out_1 = Dense(1, kernel_initializer="ones", name="out_1", trainable=False)(h)
    out_2 = Dense(1, kernel_initializer="ones", name="out_2", trainable=False)(h)
    model = Model(a, [out_1, out_2])
    model.compile("sgd", "mse")
    return model


def test_sample_weight_dict_may_leave_an_output_unweighted(kbackend):
    model = _two_output_model()  # both outputs predict 3 * x
    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    y1, y2 = 2 * x, x
    w2 = np.array([3.5, 2.5, 1.5, 0.5], "float32")
    err1, err2 = ((3 * x - y1) ** 2).ravel(), ((3 * x - y2) ** 2).ravel()
    # Keras 2: a weighted output loss is mean(w * err) over the batch
    want_1, want_2 = err1.mean(), (w2 * err2).mean()
    loss, l1, l2 = model.evaluate(x, [y1, y2], batch_size=4, sample_weight={"out_2": w2}, verbose=0)
    np.testing.assert_allclose([l1, l2, loss], [want_1, want_2, want_1 + want_2], rtol=1e-5)
    loss, l1, l2 = model.test_on_batch(x, [y1, y2], sample_weight={"out_2": w2})
    np.testing.assert_allclose([l1, l2], [want_1, want_2], rtol=1e-5)


def test_sample_weight_dict_with_an_unknown_output_is_named():
    model = _two_output_model()
    x = np.ones((4, 1), "float32")
    with pytest.raises(ValueError, match="no output named \"out_3\""):
        model.evaluate(x, [x, x], sample_weight={"out_3": np.ones(4)}, verbose=0)
