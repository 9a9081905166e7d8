"""keraslite.optimizers beyond the update rules: constructor keywords and gradient checks,
get_weights/set_weights (Keras 2.2 and 2.3 state layouts), configuration, names and
serialisation.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import optimizers as O

from optimizers_helpers import B0, BATCHES, W0, _close, _model, np_loss_and_grads

pytestmark = pytest.mark.usefixtures("kbackend")


# ---------------------------------------------------------------------------------------------
# constructor keywords and gradients


def test_unknown_keyword_raises_typeerror_naming_it():
    with pytest.raises(TypeError, match="momentun"):
        O.SGD(momentun=0.9)
    with pytest.raises(TypeError, match="decay"):
        O.Nadam(decay=0.1)  # Nadam has schedule_decay, not decay
    with pytest.raises(TypeError, match="foo"):
        O.Adam(foo=1)


def test_none_gradient_raises_valueerror(monkeypatch):
    opt = O.SGD()
    w, b, x, y, loss = _model()
    monkeypatch.setattr(K, "gradients", lambda loss, params: [None for _ in params])
    with pytest.raises(ValueError, match="None"):
        opt.get_updates(loss, [w, b])


def test_clipnorm_with_zero_gradient_is_finite():
    K.set_floatx("float64")
    opt = O.SGD(lr=0.1, clipnorm=1.0)
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    # y equals the current prediction: the gradient is exactly zero, the global norm 0
    xb = np.zeros((4, 3))
    yb = np.tile(B0, (4, 1))
    step([xb, yb])
    _close(K.get_value(w), W0, "w")
    _close(K.get_value(b), B0, "b")


def test_get_gradients_clipping_values():
    K.set_floatx("float64")
    w, b, x, y, loss = _model()
    xb, yb = BATCHES[0]
    _, grads = np_loss_and_grads(W0, B0, xb, yb)
    n = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    opt = O.SGD(clipnorm=n / 4, clipvalue=0.05)
    got = K.function([x, y], opt.get_gradients(loss, [w, b]))([xb, yb])
    for g, ref in zip(got, grads):
        _close(g, np.clip(ref * 0.25, -0.05, 0.05), "clipped gradient")
    got = K.function([x, y], O.SGD(clipnorm=n * 1.01).get_gradients(loss, [w, b]))([xb, yb])
    for g, ref in zip(got, grads):
        _close(g, ref, "gradient under the norm")


# ---------------------------------------------------------------------------------------------
# get_weights / set_weights


def _built(opt, dtype="float64"):
    K.set_floatx(dtype)
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    return w, b, step


def test_set_weights_round_trip_continues_identically():
    K.set_floatx("float64")
    a = O.Adam(lr=0.01, amsgrad=True)
    wa, ba, step_a = _built(a)
    for xb, yb in BATCHES[:2]:
        step_a([xb, yb])
    state = a.get_weights()
    params = [K.get_value(wa), K.get_value(ba)]
    b_opt = O.Adam(lr=0.01, amsgrad=True)
    wb, bb, step_b = _built(b_opt)
    K.set_value(wb, params[0])
    K.set_value(bb, params[1])
    b_opt.set_weights(state)
    for got, want in zip(b_opt.get_weights(), state):
        np.testing.assert_array_equal(got, want)
    step_a(list(BATCHES[2]))
    step_b(list(BATCHES[2]))
    _close(K.get_value(wb), K.get_value(wa), "w after the resumed step")
    _close(K.get_value(bb), K.get_value(ba), "b after the resumed step")


def test_set_weights_errors():
    opt = O.SGD(momentum=0.9)
    _built(opt)
    good = opt.get_weights()
    assert [np.shape(v) for v in good] == [(), (3, 2), (2,)]
    with pytest.raises(ValueError, match="Length"):
        opt.set_weights(good[:2])
    with pytest.raises(ValueError, match="Length"):
        opt.set_weights(good + [np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.set_weights([good[0], np.zeros((2, 3)), good[2]])
    # nothing was assigned by the failing calls
    for got, want in zip(opt.get_weights(), good):
        np.testing.assert_array_equal(got, want)


def test_set_weights_before_state_exists():
    opt = O.Adam()
    assert len(opt.get_weights()) == 1
    with pytest.raises(ValueError, match="get_updates"):
        opt.set_weights([np.int64(0), np.zeros((3, 2)), np.zeros(2)])
    opt.set_weights([np.int64(7)])
    assert int(K.get_value(opt.iterations)) == 7


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_set_weights_accepts_keras22_list_without_iterations(name):
    opt = getattr(O, name)()
    _built(opt)
    K.set_value(opt.iterations, 5)
    acc = [np.full((3, 2), 0.25), np.full(2, 0.5)]
    opt.set_weights(acc)  # a 2.2 file stored only the accumulators
    got = opt.get_weights()
    assert int(got[0]) == 5
    np.testing.assert_array_equal(got[1], acc[0])
    np.testing.assert_array_equal(got[2], acc[1])


def test_set_weights_adadelta_keras22():
    opt = O.Adadelta()
    _built(opt)
    vals = [np.full((3, 2), 1.0), np.full(2, 2.0), np.full((3, 2), 3.0), np.full(2, 4.0)]
    opt.set_weights(vals)
    got = opt.get_weights()
    assert len(got) == 5 and int(got[0]) == 0
    for g, v in zip(got[1:], vals):
        np.testing.assert_array_equal(g, v)


def test_set_weights_nadam_keras22_rebuilds_m_schedule():
    K.set_floatx("float64")
    a = O.Nadam(lr=0.01, schedule_decay=0.3)
    _, _, step = _built(a)
    for xb, yb in BATCHES:
        step([xb, yb])
    full = a.get_weights()
    assert len(full) == 2 + 4
    b_opt = O.Nadam(lr=0.01, schedule_decay=0.3)
    _built(b_opt)
    b_opt.set_weights([full[0]] + full[2:])  # the 2.2 layout: no m_schedule
    got = b_opt.get_weights()
    assert int(got[0]) == 3
    np.testing.assert_allclose(got[1], full[1], rtol=1e-12)
    for g, v in zip(got[2:], full[2:]):
        np.testing.assert_array_equal(g, v)


# ---------------------------------------------------------------------------------------------
# configuration, names, serialisation


CONFIG_CASES = [
    (O.SGD, dict(learning_rate=0.5, momentum=0.25, decay=0.125, nesterov=True)),
    (O.RMSprop, dict(learning_rate=0.5, rho=0.75, decay=0.125, epsilon=0.001)),
    (O.Adagrad, dict(learning_rate=0.5, decay=0.125, epsilon=0.001)),
    (O.Adadelta, dict(learning_rate=0.5, rho=0.75, decay=0.125, epsilon=0.001)),
    (O.Adam, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, decay=0.125, epsilon=0.001, amsgrad=True)),
    (O.Adamax, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, decay=0.125, epsilon=0.001)),
    (O.Nadam, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, epsilon=0.001, schedule_decay=0.25)),
]


@pytest.mark.parametrize("cls,cfg", CONFIG_CASES, ids=[c[0].__name__ for c in CONFIG_CASES])
def test_get_config_from_config(cls, cfg):
    opt = cls(**cfg)
    got = opt.get_config()
    assert got == cfg
    assert "lr" not in got
    clone = cls.from_config(got)
    assert type(clone) is cls and clone.get_config() == cfg
    legacy = dict(cfg)
    legacy["lr"] = legacy.pop("learning_rate")
    assert cls.from_config(legacy).get_config() == cfg
    again = O.deserialize(O.serialize(opt))
    assert type(again) is cls and again.get_config() == cfg


def test_config_defaults():
    assert O.SGD().get_config() == dict(learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False)
    assert O.RMSprop().get_config() == pytest.approx(dict(learning_rate=0.001, rho=0.9, decay=0.0, epsilon=1e-7))
    assert O.Adagrad().get_config() == pytest.approx(dict(learning_rate=0.01, decay=0.0, epsilon=1e-7))
    assert O.Adadelta().get_config() == pytest.approx(dict(learning_rate=1.0, rho=0.95, decay=0.0, epsilon=1e-7))
    cfg = O.Adam().get_config()
    assert cfg.pop("amsgrad") is False
    assert cfg == pytest.approx(dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, decay=0.0, epsilon=1e-7))
    assert O.Adamax().get_config() == pytest.approx(
        dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, decay=0.0, epsilon=1e-7))
    assert O.Nadam().get_config() == pytest.approx(
        dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7, schedule_decay=0.004))


def test_clip_options_in_config():
    cfg = O.SGD(clipnorm=1.5, clipvalue=0.5).get_config()
    assert cfg["clipnorm"] == 1.5 and cfg["clipvalue"] == 0.5
    assert "clipnorm" not in O.SGD().get_config()
    clone = O.SGD.from_config(cfg)
    assert clone.clipnorm == 1.5 and clone.clipvalue == 0.5


@pytest.mark.parametrize("name,cls", [("sgd", O.SGD), ("SGD", O.SGD), ("rmsprop", O.RMSprop),
                                      ("RMSprop", O.RMSprop), ("adagrad", O.Adagrad), ("adadelta", O.Adadelta),
                                      ("adam", O.Adam), ("Adam", O.Adam), ("ADAM", O.Adam),
                                      ("adamax", O.Adamax), ("nadam", O.Nadam), ("Nadam", O.Nadam)])
def test_get_by_name(name, cls):
    opt = O.get(name)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_other_identifiers():
    opt = O.Adam(lr=0.5)
    assert O.get(opt) is opt
    from_dict = O.get({"class_name": "Adam", "config": {"lr": 0.25}})
    assert type(from_dict) is O.Adam and float(K.get_value(from_dict.lr)) == 0.25
    assert type(O.get({"class_name": "sgd", "config": {}})) is O.SGD
    with pytest.raises(ValueError):
        O.get("no_such_optimizer")
    with pytest.raises(ValueError):
        O.get(42)
    with pytest.raises(ValueError):
        O.get(None)


def test_lowercase_aliases():
    assert O.sgd is O.SGD and O.rmsprop is O.RMSprop and O.adagrad is O.Adagrad
    assert O.adadelta is O.Adadelta and O.adam is O.Adam and O.adamax is O.Adamax and O.nadam is O.Nadam


def test_serialize_form():
    s = O.serialize(O.SGD(lr=0.5))
    assert s["class_name"] == "SGD"
    assert s["config"]["learning_rate"] == 0.5


def test_deserialize_custom_object():
    class MySGD(O.SGD):
        pass

    opt = O.deserialize({"class_name": "MySGD", "config": {"lr": 0.125}}, custom_objects={"MySGD": MySGD})
    assert type(opt) is MySGD and float(K.get_value(opt.lr)) == 0.125


def test_state_created_lazily_with_param_shapes():
    opt = O.Adamax()
    assert len(opt.weights) == 1
    w = K.variable(np.zeros((4, 5)))
    v = K.variable(np.zeros(7))
    loss = K.sum(K.square(w)) + K.sum(v)
    opt.get_updates(loss, [w, v])
    assert [K.int_shape(s) for s in opt.weights] == [(), (4, 5), (7,), (4, 5), (7,)]
    assert opt.updates  # the update list is kept on the optimizer, as in Keras
