"""make_wide_files.py cases: optimizers, losses, metrics, saved without the optimizer, weights only."""
from wide_common import C, I, L, M, O, R, case, keras, small  # noqa: F401
import tensorflow as tf  # noqa: F401


# --- optimizers not in the first set ----------------------------------------------------------
for _name, _opt in {
        "opt_legacy_adagrad": lambda: O.legacy.Adagrad(0.05, initial_accumulator_value=0.2),
        "opt_legacy_adadelta": lambda: O.legacy.Adadelta(1.0, rho=0.8),
        "opt_legacy_adamax": lambda: O.legacy.Adamax(0.02, beta_1=0.8),
        "opt_legacy_adam_amsgrad": lambda: O.legacy.Adam(0.01, amsgrad=True, epsilon=1e-4),
        "opt_legacy_sgd_nesterov": lambda: O.legacy.SGD(0.05, momentum=0.6, nesterov=True),
        "opt_legacy_sgd_plain": lambda: O.legacy.SGD(0.1),
        "opt_legacy_sgd_decay": lambda: O.legacy.SGD(0.1, momentum=0.5, decay=0.05),
        "opt_legacy_adam_decay": lambda: O.legacy.Adam(0.02, decay=0.1),
        "opt_legacy_rmsprop_momentum": lambda: O.legacy.RMSprop(0.01, momentum=0.5),
        "opt_legacy_rmsprop_centered": lambda: O.legacy.RMSprop(0.01, centered=True),
        "opt_rmsprop_centered": lambda: O.RMSprop(0.01, centered=True),
        "opt_rmsprop_momentum": lambda: O.RMSprop(0.01, momentum=0.5),
        "opt_adagrad_initial": lambda: O.Adagrad(0.05, initial_accumulator_value=0.5, epsilon=1e-3),
        "opt_adam_epsilon": lambda: O.Adam(0.02, epsilon=1e-3),
        "opt_adamax_beta": lambda: O.Adamax(0.02, beta_1=0.7, beta_2=0.9),
        "opt_adadelta_eps": lambda: O.Adadelta(0.5, rho=0.7, epsilon=1e-4),
        "opt_sgd_clipvalue": lambda: O.SGD(0.05, momentum=0.8, nesterov=True, clipvalue=0.05),
        "opt_adam_clipnorm": lambda: O.Adam(0.01, clipnorm=0.1),
        "opt_legacy_adam_clipvalue": lambda: O.legacy.Adam(0.01, clipvalue=0.01),
        # what Keras 2.3 has no meaning for (keraslite refuses these with a clear error)
        "tfonly_lr_schedule": lambda: O.SGD(O.schedules.ExponentialDecay(0.1, 10, 0.9)),
        "tfonly_adamw": lambda: O.AdamW(0.01, weight_decay=0.01),
        "tfonly_ftrl": lambda: O.Ftrl(0.05),
        "tfonly_adam_weight_decay": lambda: O.Adam(0.01, weight_decay=0.05),
}.items():
    case(_name)(lambda _o=_opt: small(_o()))


# --- losses by every name, and as objects -----------------------------------------------------
_LOSSES = {
    "mean_squared_error": ("reg", "linear"), "mean_absolute_error": ("reg", "linear"),
    "mean_absolute_percentage_error": ("reg", "linear"), "mean_squared_logarithmic_error": ("reg", "softplus"),
    "squared_hinge": ("bin", "tanh"), "hinge": ("bin", "tanh"), "categorical_hinge": ("cat", "linear"),
    "logcosh": ("reg", "linear"), "log_cosh": ("reg", "linear"), "huber": ("reg", "linear"),
    "categorical_crossentropy": ("cat", "softmax"), "sparse_categorical_crossentropy": ("sparse", "softmax"),
    "binary_crossentropy": ("bin", "sigmoid"), "kullback_leibler_divergence": ("cat", "softmax"),
    "kl_divergence": ("cat", "softmax"), "kld": ("cat", "softmax"), "poisson": ("bin", "softplus"),
    "cosine_similarity": ("reg", "linear"), "mse": ("reg", "linear"), "mae": ("reg", "linear"),
    "mape": ("reg", "linear"), "msle": ("reg", "softplus"),
}
for _loss, (_kind, _act) in _LOSSES.items():
    case("lossname_" + _loss, targets=_kind)(
        lambda _l=_loss, _a=_act: small(O.Adam(0.01), _l, metrics=(), act=_a))

_LOSS_OBJECTS = {
    "mae": ("reg", "linear", lambda: keras.losses.MeanAbsoluteError()),
    "mape": ("reg", "linear", lambda: keras.losses.MeanAbsolutePercentageError()),
    "msle": ("reg", "softplus", lambda: keras.losses.MeanSquaredLogarithmicError()),
    "cce_smoothing": ("cat", "softmax", lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.1)),
    "cce_logits": ("cat", "linear", lambda: keras.losses.CategoricalCrossentropy(from_logits=True)),
    "scce": ("sparse", "softmax", lambda: keras.losses.SparseCategoricalCrossentropy()),
    "bce": ("bin", "sigmoid", lambda: keras.losses.BinaryCrossentropy()),
    "hinge": ("bin", "tanh", lambda: keras.losses.Hinge()),
    "squared_hinge": ("bin", "tanh", lambda: keras.losses.SquaredHinge()),
    "categorical_hinge": ("cat", "linear", lambda: keras.losses.CategoricalHinge()),
    "poisson": ("bin", "softplus", lambda: keras.losses.Poisson()),
    "logcosh": ("reg", "linear", lambda: keras.losses.LogCosh()),
    "kld": ("cat", "softmax", lambda: keras.losses.KLDivergence()),
    "cosine": ("reg", "linear", lambda: keras.losses.CosineSimilarity(axis=-1)),
    "huber": ("reg", "linear", lambda: keras.losses.Huber(delta=2.0)),
    "mse_sum": ("reg", "linear", lambda: keras.losses.MeanSquaredError(reduction="sum")),
}
for _n, (_kind, _act, _loss) in _LOSS_OBJECTS.items():
    case("lossobj_" + _n, targets=_kind)(lambda _l=_loss, _a=_act: small(O.Adam(0.01), _l(), metrics=(), act=_a))


# --- metrics by every name, and as objects ----------------------------------------------------
@case("metric_names_bin", targets="bin")
def _():
    return small(O.Adam(0.01), "binary_crossentropy", act="sigmoid", width=1, metrics=(
        "accuracy", "acc", "binary_accuracy", "binary_crossentropy", "mse", "mae", "mape", "msle", "hinge",
        "squared_hinge", "poisson", "logcosh", "cosine_similarity", "mean_squared_error", "log_cosh"))


@case("metric_names_cat", targets="cat")
def _():
    return small(O.Adam(0.01), "categorical_crossentropy", act="softmax", width=4, metrics=(
        "accuracy", "categorical_accuracy", "top_k_categorical_accuracy", "categorical_crossentropy",
        "categorical_hinge", "cosine_proximity"))


@case("metric_names_sparse", targets="sparse")
def _():
    return small(O.Adam(0.01), "sparse_categorical_crossentropy", act="softmax", width=6, metrics=(
        "accuracy", "acc", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
        "sparse_categorical_crossentropy"))


@case("metric_objects_bin", targets="bin")
def _():
    return small(O.Adam(0.01), "binary_crossentropy", act="sigmoid", width=1, metrics=[
        M.TruePositives(), M.FalsePositives(thresholds=0.3), M.TrueNegatives(), M.FalseNegatives(),
        M.Precision(thresholds=0.4, name="prec"), M.Recall(), M.AUC(num_thresholds=50, curve="PR"),
        M.SensitivityAtSpecificity(0.5), M.SpecificityAtSensitivity(0.5), M.Accuracy(), M.BinaryAccuracy(),
        M.BinaryCrossentropy(from_logits=False), M.Hinge(), M.SquaredHinge(), M.Poisson(), M.MeanIoU(num_classes=2)])


@case("metric_objects_cat", targets="cat")
def _():
    return small(O.Adam(0.01), "categorical_crossentropy", act="softmax", width=4, metrics=[
        M.CategoricalAccuracy(), M.TopKCategoricalAccuracy(k=2), M.CategoricalCrossentropy(label_smoothing=0.1),
        M.CategoricalHinge(), M.KLDivergence(), M.CosineSimilarity(name="cos")])


@case("metric_objects_reg")
def _():
    return small(O.Adam(0.01), "mse", metrics=[
        M.MeanSquaredError(), M.RootMeanSquaredError(), M.MeanAbsoluteError(), M.MeanAbsolutePercentageError(),
        M.MeanSquaredLogarithmicError(), M.LogCoshError()])


@case("metric_objects_sparse", targets="sparse")
def _():
    return small(O.Adam(0.01), "sparse_categorical_crossentropy", act="softmax", width=5, metrics=[
        M.SparseCategoricalAccuracy(), M.SparseTopKCategoricalAccuracy(k=3), M.SparseCategoricalCrossentropy()])



# --- saved without the optimizer ---------------------------------------------------------------
@case("no_optimizer_conv", include_optimizer=False)
def _():
    model = keras.Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1)), L.Flatten(), L.Dense(3, activation="softmax")])
    model.compile(O.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    return model


@case("no_optimizer_rnn", include_optimizer=False)
def _():
    model = keras.Sequential([L.GRU(3, input_shape=(4, 2)), L.Dense(2)])
    model.compile(O.legacy.RMSprop(0.01), "mae")
    return model


# --- weights only ----------------------------------------------------------------------------
@case("weights_only_sequential", train=False)
def _():
    return keras.Sequential([L.Conv1D(3, 2, input_shape=(6, 2), name="c1"), L.Bidirectional(L.GRU(2), name="bi"),
                             L.Dense(2, name="out")])


def _skip_base(grow=False):
    inp = L.Input((4,))
    h = L.Dense(3, activation="relu", name="keep_a")(inp)
    h = L.Dense(5 if grow else 4, name="changes")(h)
    h = L.BatchNormalization(name="keep_bn")(h)
    extra = [L.Dense(2, name="only_in_target")(h)] if grow else []
    out = L.Dense(2, name="keep_out")(h)
    return keras.Model(inp, [out] + extra if extra else out)


@case("weights_only_skip_mismatch", train=False, target=lambda: _skip_base(grow=True))
def _():
    return _skip_base()


@case("weights_only_rnn_mix", train=False)
def _():
    inp = L.Input((5, 3))
    h = L.LSTM(3, return_sequences=True, name="lstm")(inp)
    h = L.TimeDistributed(L.Dense(2), name="td")(h)
    h = L.ConvLSTM2D(1, 1, name="convlstm")(L.Reshape((5, 1, 2, 1))(h))
    return keras.Model(inp, L.Dense(2, name="head")(L.Flatten()(h)))


@case("sequence_output_per_sample_weights", int_inputs={0: 9},
      sample_weight=lambda rs, n: rs.uniform(0.2, 2.0, n).astype("float32"))
def _():
    model = keras.Sequential([L.Embedding(9, 3, mask_zero=True, input_length=5),
                              L.Bidirectional(L.GRU(2, return_sequences=True)), L.TimeDistributed(L.Dense(2))])
    model.compile(O.Adam(0.01), "mse", metrics=["mae"])
    return model

