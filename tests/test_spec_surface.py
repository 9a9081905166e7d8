"""The public surface of SPEC.md and spec/LAYERS_OPTIMIZERS.md: names where Keras 2 puts them,
Keras 2 argument names and defaults, and behaviour on small examples checked against NumPy."""
import contextlib
import inspect
import io
import json
import os
import warnings

import h5py
import numpy as np
import pytest

import keraslite as keras
from keraslite import backend as K
from keraslite import callbacks as C
from keraslite import layers as L
from keraslite import losses, metrics
from keraslite import models as M
from keraslite import optimizers as O
from keraslite import utils

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = 1e-7


def defaults(fn) -> dict:
    """{argument: default} of a callable (classes: their __init__), without self/**kwargs."""
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        out[name] = p.default if p.default is not inspect.Parameter.empty else "<required>"
    return out


def arg_names(fn) -> list:
    return list(defaults(fn))


@pytest.fixture(autouse=True)
def _fresh_session():
    K.clear_session()
    yield


# =============================================================================================
# names

SUBPACKAGES = ["layers", "models", "optimizers", "losses", "metrics", "callbacks", "utils", "backend",
               "initializers", "activations", "regularizers", "constraints"]


def test_import_keraslite_as_keras_exposes_subpackages():
    for name in SUBPACKAGES:
        mod = getattr(keras, name)
        assert mod.__name__ == "keraslite." + name
    for name in ("set_backend", "get_backend", "available_backends", "__version__"):
        assert hasattr(keras, name)


PUBLIC = {
    "layers": "Input InputLayer Layer InputSpec Dense Activation Dropout Flatten Reshape Permute RepeatVector Lambda "
              "ActivityRegularization SpatialDropout2D Conv1D Conv2D Conv2DTranspose SeparableConv2D "
              "DepthwiseConv2D UpSampling2D ZeroPadding2D Cropping2D ZeroPadding1D Cropping1D UpSampling1D "
              "MaxPooling2D AveragePooling2D GlobalAveragePooling2D GlobalMaxPooling2D MaxPooling1D "
              "AveragePooling1D GlobalAveragePooling1D GlobalMaxPooling1D MaxPool2D AvgPool2D MaxPool1D AvgPool1D "
              "GlobalAvgPool2D GlobalMaxPool2D Convolution2D Convolution1D BatchNormalization Add Subtract "
              "Multiply Average Maximum Minimum Concatenate Dot add subtract multiply average maximum minimum "
              "concatenate dot LeakyReLU PReLU ELU ReLU Softmax ThresholdedReLU Embedding SimpleRNN LSTM GRU "
              "serialize deserialize",
    "models": "Sequential Model load_model save_model model_from_json model_from_config",
    "optimizers": "Optimizer SGD RMSprop Adagrad Adadelta Adam Adamax Nadam sgd rmsprop adagrad adadelta adam "
                  "adamax nadam get serialize deserialize",
    "losses": "mean_squared_error mse MSE mean_absolute_error mae MAE mean_absolute_percentage_error mape MAPE "
              "mean_squared_logarithmic_error msle MSLE categorical_crossentropy sparse_categorical_crossentropy "
              "binary_crossentropy kullback_leibler_divergence kld KLD poisson cosine_proximity cosine hinge "
              "squared_hinge categorical_hinge logcosh get serialize deserialize",
    "metrics": "binary_accuracy categorical_accuracy sparse_categorical_accuracy top_k_categorical_accuracy "
               "sparse_top_k_categorical_accuracy mse mae mape msle cosine binary_crossentropy get",
    "callbacks": "Callback CallbackList History BaseLogger ProgbarLogger EarlyStopping ModelCheckpoint "
                 "ReduceLROnPlateau LearningRateScheduler CSVLogger TerminateOnNaN LambdaCallback",
    "utils": "to_categorical normalize Progbar Sequence plot_model print_summary get_source_inputs "
             "CustomObjectScope custom_object_scope get_custom_objects serialize_keras_object "
             "deserialize_keras_object",
    "initializers": "Initializer Zeros Ones Constant RandomNormal RandomUniform TruncatedNormal VarianceScaling "
                    "Orthogonal Identity zeros ones constant normal uniform random_normal random_uniform "
                    "truncated_normal variance_scaling orthogonal identity glorot_uniform glorot_normal he_uniform "
                    "he_normal lecun_uniform lecun_normal get serialize deserialize",
    "activations": "softmax elu selu softplus softsign relu tanh sigmoid hard_sigmoid exponential linear get "
                   "serialize deserialize",
    "regularizers": "Regularizer L1L2 l1 l2 l1_l2 get serialize deserialize",
    "constraints": "Constraint MaxNorm NonNeg UnitNorm MinMaxNorm max_norm non_neg unit_norm min_max_norm get "
                   "serialize deserialize",
    "backend": "backend epsilon set_epsilon floatx set_floatx image_data_format set_image_data_format "
               "clear_session learning_phase set_learning_phase manual_variable_initialization get_uid "
               "variable constant placeholder is_placeholder is_keras_tensor is_tensor eval get_value set_value "
               "batch_get_value batch_set_value print_tensor int_shape shape ndim dtype count_params cast zeros "
               "ones eye zeros_like ones_like identity random_uniform_variable random_normal_variable "
               "random_normal random_uniform truncated_normal random_binomial arange update update_add "
               "update_sub moving_average_update dot batch_dot transpose gather slice one_hot in_top_k max min "
               "sum prod mean var std any all logsumexp cumsum cumprod argmax argmin square abs sqrt exp log "
               "round sign pow clip sin cos equal not_equal greater greater_equal less less_equal maximum "
               "minimum switch in_train_phase in_test_phase reshape permute_dimensions expand_dims squeeze "
               "flatten batch_flatten concatenate stack tile repeat repeat_elements resize_images "
               "spatial_2d_padding temporal_padding relu elu softmax softplus softsign sigmoid hard_sigmoid tanh "
               "categorical_crossentropy sparse_categorical_crossentropy binary_crossentropy dropout "
               "l2_normalize bias_add batch_normalization normalize_batch_in_training conv1d conv2d "
               "conv2d_transpose separable_conv2d depthwise_conv2d pool2d gradients stop_gradient function rnn",
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_exist(module):
    mod = getattr(keras, module)
    missing = [n for n in PUBLIC[module].split() if not hasattr(mod, n)]
    assert missing == []


def test_module_aliases_are_the_same_objects():
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool2D is L.AveragePooling2D
    assert L.MaxPool1D is L.MaxPooling1D and L.GlobalAvgPool2D is L.GlobalAveragePooling2D
    assert L.Convolution2D is L.Conv2D
    assert O.sgd is O.SGD and O.adam is O.Adam and O.rmsprop is O.RMSprop and O.nadam is O.Nadam
    assert losses.mse is losses.mean_squared_error and losses.MSE is losses.mse
    assert losses.mae is losses.mean_absolute_error and losses.kld is losses.kullback_leibler_divergence
    assert losses.cosine is losses.cosine_proximity and losses.msle is losses.mean_squared_logarithmic_error
    assert losses.get("mape") is losses.mean_absolute_percentage_error
    with pytest.raises(ValueError):
        losses.get("no_such_loss")
    with pytest.raises(ValueError):
        keras.activations.get("no_such_activation")
    assert keras.activations.get(None) is keras.activations.linear


# =============================================================================================
# signatures and defaults (Keras 2.2; optimizers take 2.3's learning_rate as well as lr)

TAIL = dict(kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
            bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None)

SIGNATURES = [
    (L.Dense, dict(units="<required>", activation=None, use_bias=True, **TAIL)),
    (L.Dropout, dict(rate="<required>", noise_shape=None, seed=None)),
    (L.Flatten, dict(data_format=None)),
    (L.Reshape, dict(target_shape="<required>")),
    (L.Lambda, dict(function="<required>", output_shape=None, mask=None, arguments=None)),
    (L.Conv2D, dict(filters="<required>", kernel_size="<required>", strides=(1, 1), padding="valid",
                    data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True, **TAIL)),
    (L.Conv1D, dict(filters="<required>", kernel_size="<required>", strides=1, padding="valid",
                    data_format="channels_last", dilation_rate=1, activation=None, use_bias=True, **TAIL)),
    (L.Conv2DTranspose, dict(filters="<required>", kernel_size="<required>", strides=(1, 1), padding="valid",
                             output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                             use_bias=True, **TAIL)),
    (L.UpSampling2D, dict(size=(2, 2), data_format=None, interpolation="nearest")),
    (L.ZeroPadding2D, dict(padding=(1, 1), data_format=None)),
    (L.Cropping2D, dict(cropping=((0, 0), (0, 0)), data_format=None)),
    (L.MaxPooling2D, dict(pool_size=(2, 2), strides=None, padding="valid", data_format=None)),
    (L.AveragePooling2D, dict(pool_size=(2, 2), strides=None, padding="valid", data_format=None)),
    (L.MaxPooling1D, dict(pool_size=2, strides=None, padding="valid", data_format="channels_last")),
    (L.GlobalAveragePooling2D, dict(data_format=None)),
    (L.BatchNormalization, dict(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                                beta_initializer="zeros", gamma_initializer="ones",
                                moving_mean_initializer="zeros", moving_variance_initializer="ones",
                                beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                                gamma_constraint=None)),
    (L.Concatenate, dict(axis=-1)),
    (L.Dot, dict(axes="<required>", normalize=False)),
    (L.Embedding, dict(input_dim="<required>", output_dim="<required>", embeddings_initializer="uniform",
                       embeddings_regularizer=None, activity_regularizer=None, embeddings_constraint=None,
                       mask_zero=False, input_length=None)),
    (L.LeakyReLU, dict(alpha=0.3)),
    (L.PReLU, dict(alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None)),
    (L.ELU, dict(alpha=1.0)),
    (L.ThresholdedReLU, dict(theta=1.0)),
    (L.Softmax, dict(axis=-1)),
    (L.ReLU, dict(max_value=None, negative_slope=0.0, threshold=0.0)),
    (L.Input, dict(shape=None, batch_shape=None, name=None, dtype=None, sparse=False, tensor=None)),
    (C.EarlyStopping, dict(monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                           restore_best_weights=False)),
    (C.ModelCheckpoint, dict(filepath="<required>", monitor="val_loss", verbose=0, save_best_only=False,
                             save_weights_only=False, mode="auto", period=1)),
    (C.ReduceLROnPlateau, dict(monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                               min_delta=1e-4, cooldown=0, min_lr=0)),
    (C.LearningRateScheduler, dict(schedule="<required>", verbose=0)),
    (C.CSVLogger, dict(filename="<required>", separator=",", append=False)),
    (C.ProgbarLogger, dict(count_mode="samples", stateful_metrics=None)),
    (C.BaseLogger, dict(stateful_metrics=None)),
    (utils.to_categorical, dict(y="<required>", num_classes=None, dtype="float32")),
    (utils.normalize, dict(x="<required>", axis=-1, order=2)),
]


@pytest.mark.parametrize("fn,want", SIGNATURES, ids=[f.__name__ for f, _ in SIGNATURES])
def test_signature_prefix_and_defaults(fn, want):
    got = defaults(fn)
    assert list(got)[:len(want)] == list(want)
    for name, value in want.items():
        assert got[name] == value, name


def test_lstm_gru_simplernn_defaults():
    rnn_tail = dict(dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False,
                    go_backwards=False, stateful=False, unroll=False)
    for cls in (L.SimpleRNN, L.LSTM, L.GRU):
        got = defaults(cls)
        assert got["units"] == "<required>" and got["activation"] == "tanh"
        assert got["recurrent_initializer"] == "orthogonal" and got["kernel_initializer"] == "glorot_uniform"
        for k, v in rnn_tail.items():
            assert got[k] == v, (cls.__name__, k)
    assert defaults(L.LSTM)["unit_forget_bias"] is True
    assert defaults(L.GRU)["reset_after"] is False
    for cls in (L.LSTM, L.GRU):  # Keras 2.2 defaults (config always records them)
        assert defaults(cls)["recurrent_activation"] == "hard_sigmoid"
        assert defaults(cls)["implementation"] == 1


OPTIMIZER_DEFAULTS = [
    (O.SGD, dict(learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False)),
    (O.RMSprop, dict(learning_rate=0.001, rho=0.9, epsilon=None, decay=0.0)),
    (O.Adagrad, dict(learning_rate=0.01, epsilon=None, decay=0.0)),
    (O.Adadelta, dict(learning_rate=1.0, rho=0.95, epsilon=None, decay=0.0)),
    (O.Adam, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False)),
    (O.Adamax, dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0)),
    (O.Nadam, dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, schedule_decay=0.004)),
]


@pytest.mark.parametrize("cls,want", OPTIMIZER_DEFAULTS, ids=[c.__name__ for c, _ in OPTIMIZER_DEFAULTS])
def test_optimizer_defaults_and_lr_aliases(cls, want):
    got = defaults(cls)
    for k, v in want.items():
        assert got[k] == v, k
    assert "lr" in got
    opt = cls()
    assert float(K.get_value(opt.lr)) == pytest.approx(want["learning_rate"])
    assert opt.epsilon == EPS if hasattr(opt, "epsilon") else True
    assert float(K.get_value(cls(lr=0.25).lr)) == 0.25
    assert float(K.get_value(cls(learning_rate=0.5).lr)) == 0.5
    assert float(K.get_value(cls(0.125).lr)) == 0.125
    with pytest.raises(TypeError):
        cls(not_an_argument=1)
    clone = cls.from_config(cls(lr=0.3).get_config())
    assert float(K.get_value(clone.lr)) == pytest.approx(0.3)
    assert type(O.get(cls.__name__.lower())) is cls


def test_optimizer_get_and_config_keys():
    assert isinstance(O.get(O.Adam()), O.Adam)
    with pytest.raises(ValueError):
        O.get("no_such_optimizer")
    assert set(O.SGD().get_config()) >= {"momentum", "decay", "nesterov"}
    assert set(O.Adam().get_config()) >= {"beta_1", "beta_2", "decay", "epsilon", "amsgrad"}
    assert O.RMSprop(clipnorm=1.0).get_config()["clipnorm"] == 1.0
    assert O.SGD(clipvalue=0.5).get_config()["clipvalue"] == 0.5


def test_model_method_signatures():
    assert defaults(M.Model.compile) == dict(self="<required>", optimizer="<required>", loss=None, metrics=None,
                                             loss_weights=None, sample_weight_mode=None, weighted_metrics=None,
                                             target_tensors=None)
    fit = defaults(M.Model.fit)
    assert arg_names(M.Model.fit)[1:14] == ["x", "y", "batch_size", "epochs", "verbose", "callbacks",
                                            "validation_split", "validation_data", "shuffle", "class_weight",
                                            "sample_weight", "initial_epoch", "steps_per_epoch"]
    assert (fit["batch_size"], fit["epochs"], fit["verbose"], fit["validation_split"], fit["shuffle"],
            fit["initial_epoch"]) == (None, 1, 1, 0.0, True, 0)
    ev = defaults(M.Model.evaluate)
    assert arg_names(M.Model.evaluate)[1:7] == ["x", "y", "batch_size", "verbose", "sample_weight", "steps"]
    assert ev["verbose"] == 1 and ev["batch_size"] is None
    pr = defaults(M.Model.predict)
    assert arg_names(M.Model.predict)[1:5] == ["x", "batch_size", "verbose", "steps"] and pr["verbose"] == 0
    assert arg_names(M.Model.train_on_batch)[1:] == ["x", "y", "sample_weight", "class_weight", "reset_metrics"]
    assert arg_names(M.Model.test_on_batch)[1:] == ["x", "y", "sample_weight", "reset_metrics"]  # 2.3
    assert arg_names(M.Model.fit_generator)[1:] == [
        "generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data", "validation_steps",
        "class_weight", "max_queue_size", "workers", "use_multiprocessing", "shuffle", "initial_epoch"]
    assert arg_names(M.Model.evaluate_generator)[1:] == ["generator", "steps", "max_queue_size", "workers",
                                                         "use_multiprocessing", "verbose"]
    assert defaults(M.Model.load_weights) == dict(self="<required>", filepath="<required>", by_name=False,
                                                  skip_mismatch=False, reshape=False, allow_nonfinite=False)
    assert defaults(M.Model.save) == dict(self="<required>", filepath="<required>", overwrite=True,
                                          include_optimizer=True)
    assert defaults(M.Model.summary) == dict(self="<required>", line_length=None, positions=None, print_fn=None)
    assert defaults(M.Model.get_layer) == dict(self="<required>", name=None, index=None)
    assert defaults(M.Sequential) == dict(layers=None, name=None)
    assert defaults(M.Sequential.predict_classes) == dict(self="<required>", x="<required>", batch_size=32,
                                                          verbose=0)
    assert defaults(M.Sequential.predict_proba) == dict(self="<required>", x="<required>", batch_size=32,
                                                        verbose=0)
    # Keras 2's arguments, then safe_mode (Keras 3's name) and allow_nonfinite (issue 12)
    assert defaults(M.load_model) == dict(filepath="<required>", custom_objects=None, compile=True, safe_mode=None,
                                          allow_nonfinite=False)
    assert defaults(M.save_model) == dict(model="<required>", filepath="<required>", overwrite=True,
                                          include_optimizer=True)
    assert defaults(M.model_from_json) == dict(json_string="<required>", custom_objects=None, safe_mode=None)
    assert arg_names(L.Layer.add_weight)[1:] == ["name", "shape", "dtype", "initializer", "regularizer",
                                                 "trainable", "constraint"]


def test_backend_config_defaults():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32" and K.image_data_format() == "channels_last"
    assert isinstance(K.backend(), str) and K.backend() == keras.get_backend()


# =============================================================================================
# section 1: the Layer contract

def test_unknown_keyword_is_type_error():
    with pytest.raises(TypeError):
        L.Dense(16, outputs=16)
    with pytest.raises(TypeError):  # the tutorial's typo
        L.Dense(input_shape=(32, 32, 3), outputs=16)
    with pytest.raises(TypeError):
        L.Conv2D(4, 3, bogus=True)


def test_default_names_and_uids():
    got = [L.Dense(2).name, L.Conv2D(1, 1).name, L.MaxPooling2D().name, L.ZeroPadding2D().name,
           L.BatchNormalization().name, L.GlobalAveragePooling2D().name, L.Conv2DTranspose(1, 1).name,
           L.LeakyReLU().name, L.SimpleRNN(1).name, L.LSTM(1).name, L.Activation("relu").name, L.Flatten().name,
           L.Dense(1).name]
    assert got == ["dense_1", "conv2d_1", "max_pooling2d_1", "zero_padding2d_1", "batch_normalization_1",
                   "global_average_pooling2d_1", "conv2d_transpose_1", "leaky_re_lu_1", "simple_rnn_1", "lstm_1",
                   "activation_1", "flatten_1", "dense_2"]
    a, b = L.Input((3,)), L.Input((3,))
    assert (a._keras_history[0].name, b._keras_history[0].name) == ("input_1", "input_2")
    assert M.Sequential().name == "sequential_1"
    assert M.Model(a, L.Dense(1)(a)).name == "model_1"
    K.clear_session()
    assert L.Dense(2).name == "dense_1"


def test_first_layer_keywords():
    assert L.Dense(3, input_dim=4).batch_input_shape == (None, 4)
    assert L.Dense(3, input_shape=(4,), batch_size=8).batch_input_shape == (8, 4)
    assert L.Dense(3, batch_input_shape=(2, 4)).batch_input_shape == (2, 4)
    assert L.Dense(3, trainable=False).trainable is False
    assert L.Dense(3).dtype == "float32"
    assert L.Dense(3, name="fc").name == "fc"
    assert L.Embedding(5, 2, input_length=3).batch_input_shape == (None, 3)
    layer = L.Dense(3, weights=[np.ones((2, 3)), np.full(3, 2.0)])
    layer(L.Input((2,)))
    w = layer.get_weights()
    np.testing.assert_array_equal(w[0], np.ones((2, 3)))
    np.testing.assert_array_equal(w[1], np.full(3, 2.0))


def test_weights_order_and_trainable_false():
    bn = L.BatchNormalization(name="bn")
    bn(L.Input((3,)))
    assert [w.name.split(":")[0] for w in bn.weights] == ["bn/gamma", "bn/beta", "bn/moving_mean",
                                                          "bn/moving_variance"]
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert len(bn.updates) == 2
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4 and bn.updates == []
    assert [w.name.split(":")[0] for w in bn.weights][0] == "bn/gamma"  # order is unchanged
    with pytest.raises(ValueError):
        bn.set_weights([np.ones(3)])
    with pytest.raises(ValueError):
        bn.set_weights([np.ones(4)] * 4)
    with pytest.raises(RuntimeError):
        L.Dense(2).count_params()
    dense = L.Dense(4)
    dense(L.Input((3,)))
    assert dense.count_params() == 3 * 4 + 4


def test_config_round_trip_and_base_keys():
    cfg = L.Dense(32).get_config()
    assert cfg["name"] == "dense_1" and cfg["trainable"] is True and cfg["units"] == 32
    assert cfg["activation"] == "linear"
    assert cfg["kernel_initializer"]["class_name"] == "VarianceScaling"
    assert L.Dense.from_config(cfg).get_config() == cfg
    cfg2 = L.Dense(4, input_shape=(3,), activation="relu", kernel_regularizer="l2").get_config()
    assert tuple(cfg2["batch_input_shape"]) == (None, 3) and cfg2["dtype"] == "float32"
    assert cfg2["activation"] == "relu" and cfg2["kernel_regularizer"]["class_name"] == "L1L2"
    assert cfg2["bias_regularizer"] is None
    json.dumps(cfg2)


def test_node_accessors():
    dense = L.Dense(2)
    with pytest.raises(AttributeError):
        dense.input
    with pytest.raises(AttributeError):
        dense.output_shape
    with pytest.raises(RuntimeError):
        dense.get_input_at(0)
    a, b = L.Input((4,)), L.Input((4,))
    out_a = dense(a)
    assert dense.input is a and dense.output is out_a
    out_b = dense(b)
    with pytest.raises(AttributeError):
        dense.input
    with pytest.raises(AttributeError):
        dense.output
    assert dense.input_shape == (None, 4) and dense.output_shape == (None, 2)  # same shape at every node
    assert dense.get_input_at(1) is b and dense.get_output_at(1) is out_b
    assert dense.get_input_shape_at(0) == (None, 4) and dense.get_output_shape_at(1) == (None, 2)
    with pytest.raises(ValueError):
        dense.get_input_at(5)
    act = L.Activation("relu")
    act(L.Input((3,)))
    act(L.Input((5,)))
    with pytest.raises(AttributeError):
        act.input_shape
    with pytest.raises(AttributeError):
        act.output_shape
    assert act.get_output_shape_at(1) == (None, 5)
    merged = L.Concatenate()([L.Input((3,)), L.Input((2,))])
    layer = merged._keras_history[0]
    assert layer.input_shape == [(None, 3), (None, 2)] and layer.output_shape == (None, 5)
    assert merged._keras_shape == (None, 5) and K.int_shape(merged) == (None, 5)
    assert K.is_keras_tensor(out_a) and K.is_keras_tensor(a)
    assert not K.is_keras_tensor(K.variable(np.ones(2)))


def test_input_spec_errors():
    dense = L.Dense(2)
    dense(L.Input((4,)))
    with pytest.raises(ValueError):
        dense(L.Input((5,)))
    with pytest.raises(ValueError):
        L.Conv2D(2, 3)(L.Input((4,)))
    with pytest.raises(ValueError):
        L.Flatten()(L.Input((4,)))
    with pytest.raises(ValueError):
        L.Input()


def test_input_and_input_layer():
    x = L.Input((3,))
    assert K.int_shape(x) == (None, 3) and x.dtype == "float32"
    assert K.int_shape(L.Input(batch_shape=(4, 2))) == (4, 2)
    assert type(x._keras_history[0]).__name__ == "InputLayer"


def test_tutorial_mended_dense_then_flatten():
    model = M.Sequential()
    model.add(L.Dense(units=16, input_shape=(32, 32, 3)))
    model.add(L.Flatten())
    assert model.layers[0].output_shape == (None, 32, 32, 16)
    assert model.output_shape == (None, 16384)
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    W, b = model.layers[0].get_weights()
    np.testing.assert_allclose(model.predict(x), (x @ W + b).reshape(2, -1), rtol=1e-4, atol=1e-5)


# =============================================================================================
# section 2: layer behaviour on small examples

def run(layer, x):
    i = L.Input(x.shape[1:])
    return M.Model(i, layer(i)).predict(x)


def test_padding_cropping_pooling_reshape():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    assert run(L.ZeroPadding2D(1), x).shape == (2, 6, 7, 3)
    np.testing.assert_array_equal(run(L.ZeroPadding2D((1, 2)), x), np.pad(x, ((0, 0), (1, 1), (2, 2), (0, 0))))
    np.testing.assert_array_equal(run(L.ZeroPadding2D(((1, 0), (2, 1))), x),
                                  np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0))))
    with pytest.raises(ValueError):
        L.ZeroPadding2D((1, 2, 3))
    np.testing.assert_array_equal(run(L.Cropping2D(((1, 0), (2, 1))), x), x[:, 1:, 2:4, :])
    np.testing.assert_array_equal(run(L.Cropping2D(1), x), x[:, 1:3, 1:4, :])
    assert run(L.Reshape((-1, 3)), x).shape == (2, 20, 3)
    with pytest.raises(ValueError):
        L.Reshape((7, -1))(L.Input((4, 5, 3)))
    pooled = x[:, :4, :4].reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(run(L.MaxPooling2D(), x), pooled)  # strides default to pool_size
    assert run(L.AveragePooling2D(padding="same"), x).shape == (2, 2, 3, 3)
    np.testing.assert_allclose(run(L.GlobalAveragePooling2D(), x), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(run(L.GlobalMaxPooling2D(), x), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(run(L.Flatten(data_format="channels_first"), x.transpose(0, 3, 1, 2)),
                                  x.reshape(2, -1))
    assert run(L.Permute((2, 1)), x[:, 0]).shape == (2, 3, 5)
    assert run(L.RepeatVector(3), x[:, 0, 0]).shape == (2, 3, 3)
    assert K.int_shape(L.UpSampling2D()(L.Input((3, 4, 2)))) == (None, 6, 8, 2)
    assert K.int_shape(L.MaxPooling1D()(L.Input((7, 2)))) == (None, 3, 2)


def test_conv_shapes_and_weight_layouts():
    ci = L.Input((5, 5, 2))
    conv = L.Conv2D(4, 3)
    assert K.int_shape(conv(ci)) == (None, 3, 3, 4) and [w.shape for w in conv.get_weights()] == [(3, 3, 2, 4), (4,)]
    convt = L.Conv2DTranspose(4, 3, strides=2)
    assert K.int_shape(convt(ci)) == (None, 11, 11, 4) and convt.get_weights()[0].shape == (3, 3, 4, 2)
    assert K.int_shape(L.Conv2DTranspose(4, 3, strides=2, padding="same")(ci)) == (None, 10, 10, 4)
    sep = L.SeparableConv2D(4, 3, depth_multiplier=2)
    sep(ci)
    assert [w.shape for w in sep.get_weights()] == [(3, 3, 2, 2), (1, 1, 4, 4), (4,)]
    dw = L.DepthwiseConv2D(3, depth_multiplier=2)
    dw(ci)
    assert [w.shape for w in dw.get_weights()] == [(3, 3, 2, 2), (4,)]
    assert K.int_shape(L.Conv1D(3, 2, padding="causal")(L.Input((7, 2)))) == (None, 7, 3)
    assert K.int_shape(L.Conv2D(1, 3, dilation_rate=2)(L.Input((9, 9, 1)))) == (None, 5, 5, 1)
    assert K.int_shape(L.Conv2D(4, 3, data_format="channels_first")(L.Input((2, 9, 9)))) == (None, 4, 7, 7)
    with pytest.raises(ValueError):
        L.Conv2D(1, (3, 3, 3))
    with pytest.raises(ValueError):
        L.Conv2D(1, 3, padding="full")


def test_conv2d_values_against_numpy():
    x = np.random.rand(2, 5, 6, 2).astype("float32")
    conv = L.Conv2D(3, (2, 3), strides=(1, 2), activation="relu")
    out = run(conv, x)
    W, b = conv.get_weights()
    want = np.zeros((2, 4, 2, 3))
    for i in range(4):
        for j in range(2):
            patch = x[:, i:i + 2, 2 * j:2 * j + 3, :]
            want[:, i, j, :] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2])) + b
    np.testing.assert_allclose(out, np.maximum(want, 0), rtol=1e-4, atol=1e-5)


def test_activation_layers_against_numpy():
    x = (np.random.rand(3, 4).astype("float32") - 0.5) * 2
    np.testing.assert_allclose(run(L.LeakyReLU(), x), np.where(x >= 0, x, 0.3 * x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(run(L.ThresholdedReLU(0.5), x), np.where(x > 0.5, x, 0), atol=1e-7)
    want = np.where(x >= 0.6, 0.6, np.where(x >= 0.2, x, 0.1 * (x - 0.2)))
    np.testing.assert_allclose(run(L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2), x), want, atol=1e-6)
    np.testing.assert_allclose(run(L.ELU(0.5), x), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), atol=1e-6)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(run(L.Softmax(), x), e / e.sum(-1, keepdims=True), atol=1e-6)
    prelu = L.PReLU(alpha_initializer="ones")
    np.testing.assert_allclose(run(prelu, x), x, atol=1e-7)
    p = L.PReLU(shared_axes=[1])
    p(L.Input((3, 4)))
    assert p.get_weights()[0].shape == (1, 4)
    np.testing.assert_array_equal(run(L.Dropout(0.5), x), x)  # identity at inference
    assert L.Dropout(1.5).rate == 1.0


def test_merge_layers_against_numpy():
    a = np.random.rand(3, 4).astype("float32")
    b = np.random.rand(3, 4).astype("float32")

    def run2(layer):
        i1, i2 = L.Input((4,)), L.Input((4,))
        return M.Model([i1, i2], layer([i1, i2])).predict([a, b])

    np.testing.assert_allclose(run2(L.Add()), a + b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Subtract()), a - b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Multiply()), a * b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Average()), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Maximum()), np.maximum(a, b))
    np.testing.assert_allclose(run2(L.Minimum()), np.minimum(a, b))
    np.testing.assert_allclose(run2(L.Concatenate()), np.concatenate([a, b], -1))
    np.testing.assert_allclose(run2(L.Dot(1)), (a * b).sum(-1, keepdims=True), rtol=1e-5)
    na, nb = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(run2(L.Dot(1, normalize=True)), (na * nb).sum(-1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(run2(lambda t: L.add(t)), a + b, rtol=1e-6)
    np.testing.assert_allclose(run2(lambda t: L.concatenate(t, axis=-1)), np.concatenate([a, b], -1))
    with pytest.raises(ValueError):
        L.Concatenate()([L.Input((4, 3)), L.Input((5, 2))])
    with pytest.raises(ValueError):
        L.Subtract()([L.Input((4,)), L.Input((4,)), L.Input((4,))])


def test_dense_nd_embedding_simplernn_lstm_layout():
    dense = L.Dense(4)
    i3 = L.Input((5, 3))
    model = M.Model(i3, dense(i3))
    x3 = np.random.rand(2, 5, 3).astype("float32")
    W, b = dense.get_weights()
    np.testing.assert_allclose(model.predict(x3), x3 @ W + b, rtol=1e-5, atol=1e-6)
    emb = L.Embedding(5, 2, input_length=3)
    idx = np.array([[0, 1, 4], [2, 2, 3]])
    np.testing.assert_allclose(M.Sequential([emb]).predict(idx), emb.get_weights()[0][idx])
    assert np.abs(emb.get_weights()[0]).max() <= 0.05
    rnn = L.SimpleRNN(2)
    ir = L.Input((4, 3))
    mr = M.Model(ir, rnn(ir))
    W, U, bb = rnn.get_weights()
    xr = np.random.rand(2, 4, 3).astype("float32")
    h = np.zeros((2, 2))
    for t in range(4):
        h = np.tanh(xr[:, t] @ W + bb + h @ U)
    np.testing.assert_allclose(mr.predict(xr), h, rtol=1e-5, atol=1e-6)
    lstm = L.LSTM(2)
    lstm(L.Input((4, 3)))
    assert [tuple(w.shape) for w in lstm.weights] == [(3, 8), (2, 8), (8,)]
    np.testing.assert_array_equal(lstm.get_weights()[2], [0, 0, 1, 1, 0, 0, 0, 0])  # i, f, c, o blocks


def test_batch_normalization_train_inference_and_frozen():
    x = np.random.rand(6, 3).astype("float32") * 3
    model = M.Sequential([L.BatchNormalization(input_shape=(3,), momentum=0.9)])
    model.compile(O.SGD(lr=0.0), "mse")
    y = np.zeros((6, 3), "float32")
    loss = model.train_on_batch(x, y)
    mu, var, n = x.mean(0), x.var(0), 6
    assert loss == pytest.approx(np.mean((x - mu) ** 2 / (var + 1e-3)), rel=1e-4)  # batch statistics
    gamma, beta, mm, mv = model.get_weights()
    np.testing.assert_allclose(mm, 0.1 * mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var * n / (n - (1 + 1e-3)), rtol=1e-4)
    np.testing.assert_allclose(model.predict(x), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-5)
    model.layers[0].trainable = False
    model.compile(O.SGD(lr=0.0), "mse")
    before = model.get_weights()
    model.train_on_batch(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_dense_is_not_trained_and_regularizer_losses():
    dense = L.Dense(2, input_shape=(3,), trainable=False)
    model = M.Sequential([dense])
    model.compile(O.SGD(lr=1.0), "mse")
    before = model.get_weights()
    model.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2
    reg = L.Dense(2, kernel_regularizer="l2", activity_regularizer="l1")
    reg(L.Input((3,)))
    assert len(reg.losses) == 2


# =============================================================================================
# sections 4 and 5: losses and metrics against NumPy

def ev(fn, y, p, **kw):
    return K.eval(fn(K.constant(y), K.constant(p), **kw))


def test_losses_against_numpy():
    rng = np.random.default_rng(0)
    y = rng.random((5, 3)).astype("float32")
    p = rng.random((5, 3)).astype("float32") + 0.01
    tol = dict(rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ev(losses.mse, y, p), ((p - y) ** 2).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.mae, y, p), np.abs(p - y).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.mape, y, p), 100 * np.abs((y - p) / np.clip(np.abs(y), EPS, None)).mean(-1),
                               **tol)
    np.testing.assert_allclose(ev(losses.msle, y, p), ((np.log(p + 1) - np.log(y + 1)) ** 2).mean(-1), **tol)
    yc, pc = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    np.testing.assert_allclose(ev(losses.kld, y, p), (yc * np.log(yc / pc)).sum(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ev(losses.poisson, y, p), (p - y * np.log(p + EPS)).mean(-1), **tol)

    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    np.testing.assert_allclose(ev(losses.cosine_proximity, y, p), -(unit(y) * unit(p)).sum(-1), **tol)
    ys = np.sign(y - 0.5)
    np.testing.assert_allclose(ev(losses.hinge, ys, p), np.maximum(1 - ys * p, 0).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.squared_hinge, ys, p), (np.maximum(1 - ys * p, 0) ** 2).mean(-1), **tol)
    oh = np.eye(3, dtype="float32")[[0, 1, 2, 1, 0]]
    np.testing.assert_allclose(ev(losses.categorical_hinge, oh, p),
                               np.maximum(0, ((1 - oh) * p).max(-1) - (oh * p).sum(-1) + 1), **tol)
    np.testing.assert_allclose(ev(losses.logcosh, y, p), np.log(np.cosh(p - y)).mean(-1), **tol)
    pn = p / p.sum(-1, keepdims=True)
    np.testing.assert_allclose(ev(losses.categorical_crossentropy, oh, p), -(oh * np.log(pn)).sum(-1), **tol)
    labels = np.array([0, 1, 2, 1, 0], "float32")
    pt = np.clip(p, EPS, 1 - EPS)  # clipped first, then renormalised (TF's softmax of log p)
    np.testing.assert_allclose(ev(losses.sparse_categorical_crossentropy, labels, p),
                               -np.log(pt[np.arange(5), labels.astype(int)] / pt.sum(-1)), **tol)
    yb, pb = np.round(y), np.clip(p, EPS, 1 - EPS)
    np.testing.assert_allclose(ev(losses.binary_crossentropy, yb, pb),
                               -(yb * np.log(pb) + (1 - yb) * np.log(1 - pb)).mean(-1), **tol)


def test_metrics_against_numpy():
    rng = np.random.default_rng(1)
    p = rng.random((6, 4)).astype("float32")
    labels = np.array([0, 1, 2, 3, 1, 0])
    oh = np.eye(4, dtype="float32")[labels]
    yb = (rng.random((6, 1)) > 0.5).astype("float32")
    np.testing.assert_allclose(ev(metrics.binary_accuracy, yb, p[:, :1]), (yb == np.round(p[:, :1])).mean(-1))
    np.testing.assert_allclose(ev(metrics.categorical_accuracy, oh, p), labels == p.argmax(-1))
    np.testing.assert_allclose(ev(metrics.sparse_categorical_accuracy, labels[:, None].astype("float32"), p),
                               labels == p.argmax(-1))
    top2 = np.array([labels[i] in np.argsort(-p[i])[:2] for i in range(6)], "float32")
    assert np.mean(ev(metrics.top_k_categorical_accuracy, oh, p, k=2)) == pytest.approx(top2.mean())
    assert np.mean(ev(metrics.sparse_top_k_categorical_accuracy, labels[:, None].astype("float32"), p, k=2)) == \
        pytest.approx(top2.mean())
    assert defaults(metrics.top_k_categorical_accuracy)["k"] == 5


# =============================================================================================
# section 3: optimizer update rules against NumPy

W0 = np.array([1.0, -2.0, 3.0], "float32")
G = np.array([0.5, -1.0, 2.0], "float32")


def steps(opt, n):
    v = K.variable(W0.copy())
    loss = K.sum(v * K.constant(G))  # gradient G
    f = K.function([], [loss], updates=opt.get_updates(loss=loss, params=[v]))
    for _ in range(n):
        f([])
    return K.get_value(v)


def ref_sgd(lr, m, nesterov, decay, n):
    p, v = W0.astype("float64"), np.zeros(3)
    for it in range(n):
        lrt = lr / (1 + decay * it)
        v = m * v - lrt * G
        p = p + (m * v - lrt * G if nesterov else v)
    return p


def ref_adam(n, lr=0.1, b1=0.9, b2=0.999, amsgrad=False, decay=0.0):
    p, m, v, vh = W0.astype("float64"), np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, n + 1):
        lrt = lr / (1 + decay * (t - 1)) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = b1 * m + (1 - b1) * G
        v = b2 * v + (1 - b2) * G * G
        vh = np.maximum(vh, v)
        p = p - lrt * m / (np.sqrt(vh if amsgrad else v) + EPS)
    return p


def ref_rmsprop(n, lr=0.01, rho=0.9):
    p, a = W0.astype("float64"), np.zeros(3)
    for _ in range(n):
        a = rho * a + (1 - rho) * G * G
        p = p - lr * G / (np.sqrt(a) + EPS)
    return p


def ref_adagrad(n, lr=0.01):
    p, a = W0.astype("float64"), np.zeros(3)
    for _ in range(n):
        a = a + G * G
        p = p - lr * G / (np.sqrt(a) + EPS)
    return p


def ref_adadelta(n, lr=1.0, rho=0.95):
    p, a, d = W0.astype("float64"), np.zeros(3), np.zeros(3)
    for _ in range(n):
        a = rho * a + (1 - rho) * G * G
        u = G * np.sqrt(d + EPS) / np.sqrt(a + EPS)
        p = p - lr * u
        d = rho * d + (1 - rho) * u * u
    return p


def ref_adamax(n, lr=0.002, b1=0.9, b2=0.999):
    p, m, u = W0.astype("float64"), np.zeros(3), np.zeros(3)
    for t in range(1, n + 1):
        m = b1 * m + (1 - b1) * G
        u = np.maximum(b2 * u, np.abs(G))
        p = p - lr / (1 - b1 ** t) * m / (u + EPS)
    return p


def ref_nadam(n, lr=0.002, b1=0.9, b2=0.999, sd=0.004):
    p, m, v, sched = W0.astype("float64"), np.zeros(3), np.zeros(3), 1.0
    for t in range(1, n + 1):
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * sd))
        mu_t1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * sd))
        sched = sched * mu_t
        sched_next = sched * mu_t1
        g_hat = G / (1 - sched)
        m = b1 * m + (1 - b1) * G
        m_hat = m / (1 - sched_next)
        v = b2 * v + (1 - b2) * G * G
        v_hat = v / (1 - b2 ** t)
        p = p - lr * ((1 - mu_t) * g_hat + mu_t1 * m_hat) / (np.sqrt(v_hat) + EPS)
    return p


@pytest.mark.parametrize("make,ref", [
    (lambda: O.SGD(lr=0.1), lambda: ref_sgd(0.1, 0.0, False, 0.0, 3)),
    (lambda: O.SGD(lr=0.1, momentum=0.9), lambda: ref_sgd(0.1, 0.9, False, 0.0, 3)),
    (lambda: O.SGD(lr=0.1, momentum=0.9, nesterov=True, decay=0.1), lambda: ref_sgd(0.1, 0.9, True, 0.1, 3)),
    (lambda: O.RMSprop(lr=0.01), lambda: ref_rmsprop(3)),
    (lambda: O.Adagrad(), lambda: ref_adagrad(3)),
    (lambda: O.Adadelta(), lambda: ref_adadelta(3)),
    (lambda: O.Adam(lr=0.1), lambda: ref_adam(3)),
    (lambda: O.Adam(lr=0.1, decay=0.5), lambda: ref_adam(3, decay=0.5)),
    (lambda: O.Adam(lr=0.1, amsgrad=True), lambda: ref_adam(3, amsgrad=True)),
    (lambda: O.Adamax(), lambda: ref_adamax(3)),
    (lambda: O.Nadam(), lambda: ref_nadam(3)),
], ids=["sgd", "momentum", "nesterov_decay", "rmsprop", "adagrad", "adadelta", "adam", "adam_decay", "amsgrad",
        "adamax", "nadam"])
def test_optimizer_update_rules(make, ref):
    np.testing.assert_allclose(steps(make(), 3), ref(), rtol=1e-5, atol=1e-6)


def test_clipnorm_clipvalue_and_optimizer_weights():
    norm = np.sqrt((G ** 2).sum())
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipnorm=1.0), 1), W0 - 0.1 * G / norm, rtol=1e-6)
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipnorm=10.0), 1), W0 - 0.1 * G, rtol=1e-6)
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipvalue=0.6), 1), W0 - 0.1 * np.clip(G, -0.6, 0.6), rtol=1e-6)
    opt = O.Adam()
    steps(opt, 2)
    weights = opt.get_weights()
    assert float(weights[0]) == 2.0  # iterations first
    with pytest.raises(ValueError):
        opt.set_weights([np.zeros(2)])


# =============================================================================================
# section 6: the Model API

def small_data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3)).astype("float32")
    y = (x.sum(1, keepdims=True) > 1.5).astype("float32")
    return x, y


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.events, self.batches = [], []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.batches.append((batch, logs["size"], sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_fit_history_params_and_callback_hooks():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    assert model.metrics_names == ["loss", "acc"]
    rec = Recorder()
    hist = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_split=0.2, callbacks=[rec],
                     initial_epoch=1)
    assert hist.epoch == [1, 2] and hist.model is model and model.history is hist
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(len(v) == 2 for v in hist.history.values())
    assert hist.params == {"batch_size": 4, "epochs": 3, "steps": None, "samples": 8, "verbose": 0,
                           "do_validation": True, "metrics": ["loss", "acc", "val_loss", "val_acc"]}
    keys = ["acc", "loss", "val_acc", "val_loss"]
    assert rec.events == ["train_begin", ("epoch_begin", 1), ("epoch_end", 1, keys), ("epoch_begin", 2),
                          ("epoch_end", 2, keys), "train_end"]
    assert rec.batches[:2] == [(0, 4, ["acc", "batch", "loss", "size"]), (1, 4, ["acc", "batch", "loss", "size"])]
    assert rec.params is hist.params or rec.params == hist.params
    assert rec.model is model
    assert rec.validation_data is not None and len(rec.validation_data[0]) == 2
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    assert set(model.fit(x, y, verbose=0).history) == {"loss", "accuracy"}


def test_callback_order():
    import keraslite.engine.loops as loops
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    seen = []

    class Spy(C.Callback):
        def on_train_begin(self, logs=None):
            seen.append(None)

    original = loops._callback_list

    def spy(*args, **kwargs):
        cl = original(*args, **kwargs)
        seen.append([type(c).__name__ for c in cl.callbacks])
        return cl

    loops._callback_list = spy
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(x, y, verbose=1, callbacks=[Spy()])
        model.fit(x, y, verbose=0, callbacks=[Spy()])
    finally:
        loops._callback_list = original
    assert seen[0] == ["BaseLogger", "ProgbarLogger", "Spy", "History"]
    assert seen[2] == ["BaseLogger", "Spy", "History"]


def test_validation_split_takes_the_last_samples_and_batch_weighted_history():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(O.SGD(lr=0.0), "mse")
    hist = model.fit(x, y, batch_size=3, epochs=1, verbose=0, validation_split=0.2, shuffle=True)
    W, b = model.get_weights()
    pred = x @ W + b
    assert hist.history["val_loss"][0] == pytest.approx(np.mean((pred[8:] - y[8:]) ** 2), rel=1e-5)
    assert hist.history["loss"][0] == pytest.approx(np.mean((pred[:8] - y[:8]) ** 2), rel=1e-5)
    assert hist.params["samples"] == 8


def test_default_batch_size_and_fit_argument_checks():
    x = np.random.rand(70, 3).astype("float32")
    y = np.random.rand(70, 1).astype("float32")
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    rec = Recorder()
    hist = model.fit(x, y, verbose=0, callbacks=[rec], shuffle=False)
    assert [s for _, s, _ in rec.batches] == [32, 32, 6] and hist.params["batch_size"] == 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(model.fit(x, y, nb_epoch=2, verbose=0).epoch) == 2
    with pytest.raises(TypeError):
        model.fit(x, y, verbose=0, not_a_fit_argument=1)
    with pytest.raises(ValueError):
        model.fit(x, y, validation_data=(x,), verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, y[:5], verbose=0)
    with pytest.raises(ValueError):  # a list of two target arrays for a single-output model
        model.fit(x, [y, y], verbose=0)
    cce = M.Sequential([L.Dense(3, input_shape=(3,), activation="softmax")])
    cce.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError):
        cce.fit(x, np.zeros((70, 1)), verbose=0)
    assert model.predict(x, batch_size=7).shape == (70, 1)


def test_evaluate_return_forms_and_values():
    x, y = small_data(12)
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    W, b = model.get_weights()
    pred = x @ W + b
    loss = model.evaluate(x, y, batch_size=5, verbose=0)
    assert np.ndim(loss) == 0 and not isinstance(loss, list)
    assert loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    model.compile("sgd", "mse", metrics=["mae", mean_pred])
    assert model.metrics_names == ["loss", "mae", "mean_pred"]
    out = model.evaluate(x, y, batch_size=5, verbose=0)
    assert isinstance(out, list) and len(out) == 3
    assert out[1] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert out[2] == pytest.approx(pred.mean(), rel=1e-5)
    tb = model.test_on_batch(x, y)
    assert isinstance(tb, list) and tb[0] == pytest.approx(out[0], rel=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), pred, rtol=1e-5, atol=1e-6)


def test_sample_and_class_weights():
    x = np.random.rand(20, 3).astype("float32")
    yb = (x[:, 0] > 0.5).astype("float32")
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile(O.SGD(lr=0.0), "binary_crossentropy")
    p = np.clip(model.predict(x)[:, 0].astype(np.float64), EPS, 1 - EPS)
    per = -(yb * np.log(p) + (1 - yb) * np.log(1 - p))
    cw = np.where(yb == 1, 3.0, 1.0)
    assert model.train_on_batch(x, yb, class_weight={0: 1.0, 1: 3.0}) == pytest.approx(np.mean(per * cw), rel=1e-4)
    sw = np.random.rand(20).astype("float32")
    assert model.test_on_batch(x, yb, sample_weight=sw) == pytest.approx(np.mean(per * sw), rel=1e-4)
    with pytest.raises(ValueError):
        model.fit(x, yb, class_weight={0: 1.0}, verbose=0)


def test_predict_classes_and_proba():
    x, _ = small_data()
    one = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    classes = one.predict_classes(x)
    assert classes.dtype == np.int32 and classes.shape == (10, 1)
    np.testing.assert_array_equal(classes, (one.predict(x) > 0.5).astype("int32"))
    many = M.Sequential([L.Dense(3, input_shape=(3,), activation="softmax")])
    np.testing.assert_array_equal(many.predict_classes(x), many.predict(x).argmax(-1))
    np.testing.assert_allclose(many.predict_proba(x), many.predict(x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M.Sequential([L.Dense(2, input_shape=(3,), kernel_initializer="ones", bias_initializer="ones")]) \
            .predict_proba(x + 1.0)
    assert caught


def test_multi_output_losses_metrics_and_dicts():
    x, y1 = small_data()
    y2 = np.random.rand(10, 2).astype("float32")
    i = L.Input((3,), name="in")
    o1, o2 = L.Dense(1, name="o1")(i), L.Dense(2, name="o2")(i)
    model = M.Model(i, [o1, o2])
    model.compile("sgd", ["mse", "mse"], metrics=["mae"], loss_weights=[1.0, 0.5])
    assert model.metrics_names == ["loss", "o1_loss", "o2_loss", "o1_mae", "o2_mae"]
    out = model.evaluate(x, {"o1": y1, "o2": y2}, verbose=0)
    p1, p2 = model.predict(x)
    l1, l2 = np.mean((p1 - y1) ** 2), np.mean((p2 - y2) ** 2)
    np.testing.assert_allclose(out[:3], [l1 + 0.5 * l2, l1, l2], rtol=1e-5)
    assert isinstance(model.predict(x), list)
    with pytest.raises(ValueError):
        model.compile("sgd", {"nope": "mse"})
    model.compile("sgd", {"o1": "mse"})  # o2 gets no loss
    assert model.metrics_names == ["loss", "o1_loss"]
    total, o1_loss = model.train_on_batch(x, [y1])
    assert total == pytest.approx(o1_loss)
    with pytest.raises(ValueError):
        model.train_on_batch(x, [y1, y2])


def test_model_structure_accessors():
    seq = M.Sequential([L.Dense(2, input_shape=(3,), name="a"), L.Dense(1, name="b")])
    assert [l.name for l in seq.layers] == ["a", "b"]  # no InputLayer
    assert seq.get_layer(index=0).name == "a" and seq.get_layer(index=1).name == "b"
    assert seq.get_layer("b") is seq.layers[1]
    with pytest.raises(ValueError):
        seq.get_layer("zzz")
    assert (seq.input_shape, seq.output_shape) == ((None, 3), (None, 1))
    assert seq.count_params() == 3 * 2 + 2 + 2 + 1
    seq.pop()
    assert seq.output_shape == (None, 2) and len(seq.layers) == 1
    with pytest.raises(TypeError):
        seq.add("not a layer")
    i = L.Input((3,))
    model = M.Model(inputs=i, outputs=L.Dense(1)(i))
    assert type(model.layers[0]).__name__ == "InputLayer" and model.get_layer(index=0) is model.layers[0]
    assert model.input is i and model.output is model.outputs[0] and model.input_names == [model.layers[0].name]
    inner = M.Sequential([L.Dense(2, input_shape=(3,))])
    nested = M.Model(i, L.Dense(1)(inner(i)))
    assert nested.predict(np.ones((2, 3), "float32")).shape == (2, 1) and nested.count_params() == 8 + 3
    lazy = M.Sequential()
    lazy.add(L.Dense(2))
    lazy.compile("sgd", "mse")
    lazy.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    assert lazy.input_shape == (None, 3)


def test_get_source_inputs_and_print_summary():
    a, b = L.Input((3,)), L.Input((3,))
    out = L.Dense(1)(L.Add()([a, L.Dense(3)(b)]))
    sources = utils.get_source_inputs(out)
    assert len(sources) == 2 and sources[0] is a and sources[1] is b
    model = M.Model([a, b], out)
    lines, direct = [], []
    utils.print_summary(model, print_fn=lines.append)
    model.summary(print_fn=direct.append)
    assert lines == direct


CONVMODEL_SUMMARY = """\
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
input_1 (InputLayer)         (None, 32, 32, 3)         0
_________________________________________________________________
zero_padding2d_1 (ZeroPaddin (None, 38, 38, 3)         0
_________________________________________________________________
conv1 (Conv2D)               (None, 36, 36, 32)        896
_________________________________________________________________
bn_conv1 (BatchNormalization (None, 36, 36, 32)        128
_________________________________________________________________
activation_1 (Activation)    (None, 36, 36, 32)        0
_________________________________________________________________
max_pooling2d_1 (MaxPooling2 (None, 17, 17, 32)        0
_________________________________________________________________
conv2 (Conv2D)               (None, 15, 15, 64)        18496
_________________________________________________________________
bn_conv2 (BatchNormalization (None, 15, 15, 64)        256
_________________________________________________________________
activation_2 (Activation)    (None, 15, 15, 64)        0
_________________________________________________________________
max_pooling2d_2 (MaxPooling2 (None, 7, 7, 64)          0
_________________________________________________________________
flatten_1 (Flatten)          (None, 3136)              0
_________________________________________________________________
fc10 (Dense)                 (None, 10)                31370
=================================================================
Total params: 51,146
Trainable params: 50,954
Non-trainable params: 192
_________________________________________________________________"""


def convmodel():
    X_input = L.Input((32, 32, 3))
    X = L.ZeroPadding2D((3, 3))(X_input)
    X = L.Conv2D(32, (3, 3), strides=(1, 1), name="conv1")(X)
    X = L.BatchNormalization(axis=3, name="bn_conv1")(X)
    X = L.Activation("relu")(X)
    X = L.MaxPooling2D((3, 3), strides=(2, 2))(X)
    X = L.Conv2D(64, (3, 3), name="conv2")(X)
    X = L.BatchNormalization(axis=3, name="bn_conv2")(X)
    X = L.Activation("relu")(X)
    X = L.MaxPooling2D((3, 3), strides=(2, 2))(X)
    X = L.Flatten()(X)
    X = L.Dense(10, activation="softmax", name="fc10")(X)
    return M.Model(inputs=X_input, outputs=X, name="convmodel")


def test_summary_matches_the_spec_example():
    lines = []
    convmodel().summary(print_fn=lines.append)
    assert lines[0] == 'Model: "convmodel"'  # Keras 2.3's first line; the rest is the 2.2 example
    assert "\n".join(l.rstrip() for l in lines[1:]) == CONVMODEL_SUMMARY
    table = [l for l in lines[1:] if not l.startswith(("Total", "Trainable", "Non-trainable"))]
    assert {len(l) for l in table} == {65}  # padded to the full width
    header = lines[2]
    assert header.index("Output Shape") == 29 and header.index("Param #") == 55


def test_summary_graph_columns_and_multiple():
    a, b = L.Input((4,)), L.Input((6,))
    shared = L.Activation("relu", name="shared")
    out = L.Concatenate()([shared(a), shared(b)])
    lines = []
    M.Model([a, b], out).summary(print_fn=lines.append)
    header = lines[2]
    assert len(lines[1]) == 98
    assert [header.index(h) for h in ("Output Shape", "Param #", "Connected to")] == [32, 53, 65]
    row = next(i for i, l in enumerate(lines) if l.startswith("shared (Activation)"))
    assert lines[row][32:53].rstrip() == "multiple"
    assert lines[row][65:].rstrip() == "input_1[0][0]" and lines[row + 1][65:].rstrip() == "input_2[0][0]"
    assert lines[row + 1][:65].strip() == ""


def test_config_json_formats_and_round_trip():
    model = convmodel()
    cfg = model.get_config()
    assert set(cfg) >= {"name", "layers", "input_layers", "output_layers"}
    assert cfg["input_layers"] == [["input_1", 0, 0]] and cfg["output_layers"] == [["fc10", 0, 0]]
    layer = cfg["layers"][1]
    assert set(layer) >= {"name", "class_name", "config", "inbound_nodes"}
    assert layer["inbound_nodes"] == [[["input_1", 0, 0, {}]]]
    js = json.loads(model.to_json())
    assert set(js) >= {"class_name", "config", "keras_version", "backend"} and js["class_name"] == "Model"
    clone = M.model_from_json(model.to_json())
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert clone.count_params() == model.count_params()
    seq = M.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    scfg = seq.get_config()
    assert set(scfg) >= {"name", "layers"} and [l["class_name"] for l in scfg["layers"]] == ["Dense", "Dense"]
    assert set(scfg["layers"][0]) == {"class_name", "config"}
    assert json.loads(seq.to_json())["class_name"] == "Sequential"
    seq2 = M.Sequential.from_config(scfg)
    assert seq2.output_shape == (None, 2) and seq2.count_params() == seq.count_params()
    assert M.Model.from_config(cfg).count_params() == model.count_params()


def test_verbose_output_forms():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, batch_size=5, epochs=2, verbose=2, validation_data=(x, y))
    lines = buf.getvalue().splitlines()
    assert lines[0] == "Train on 10 samples, validate on 10 samples" and lines[1] == "Epoch 1/2"
    assert lines[2].startswith(" - ") and " - loss: " in lines[2] and " - val_acc: " in lines[2]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, batch_size=5, epochs=1, verbose=1)
    text = buf.getvalue().replace("\r", "\n").replace("\b", "")
    last = [l for l in text.splitlines() if l.strip()][-1]
    assert last.startswith("10/10 [==============================] - ") and "/step - loss: " in last


# =============================================================================================
# section 7: saving layout

def test_save_layout_and_load(tmp_path):
    x = np.random.rand(8, 4).astype("float32")
    y = np.random.rand(8, 2).astype("float32")
    model = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dropout(0.5), L.BatchNormalization(name="bn"),
                          L.Dense(2, name="d2")])
    model.compile(O.Adam(), "mse", metrics=["acc"])
    model.fit(x, y, verbose=0)
    path = str(tmp_path / "m.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        assert {"keras_version", "backend", "model_config", "training_config"} <= set(f.attrs)
        mc = json.loads(f.attrs["model_config"])
        assert mc["class_name"] == "Sequential"
        tc = json.loads(f.attrs["training_config"])
        assert {"optimizer_config", "loss", "metrics", "sample_weight_mode", "loss_weights"} <= set(tc)
        assert tc["optimizer_config"]["class_name"] == "Adam" and tc["loss"] == "mse"
        g = f["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["layer_names"]]
        assert names == ["d1", "dropout_1", "bn", "d2"]
        wn = [n.decode() if isinstance(n, bytes) else n for n in g["bn"].attrs["weight_names"]]
        assert wn == ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"]
        assert len(g["dropout_1"].attrs["weight_names"]) == 0
        assert g["d1/d1/kernel:0"].shape == (4, 3)
        assert "optimizer_weights" in f and len(f["optimizer_weights"].attrs["weight_names"]) > 0
    loaded = M.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)
    assert type(loaded.optimizer) is O.Adam
    for a, b in zip(loaded.optimizer.get_weights(), model.optimizer.get_weights()):
        np.testing.assert_allclose(a, b)
    assert loaded.metrics_names == model.metrics_names
    assert M.load_model(path, compile=False).predict(x).shape == (8, 2)


def test_save_weights_and_load_weights_modes(tmp_path):
    model = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dropout(0.5), L.BatchNormalization(name="bn"),
                          L.Dense(2, name="d2")])
    path = str(tmp_path / "w.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert {"layer_names", "backend", "keras_version"} <= set(f.attrs)
        assert "model_weights" not in f
    # topological: weightless layers ignored on both sides, names don't matter
    other = M.Sequential([L.Dense(3, input_shape=(4,), name="x1"), L.BatchNormalization(name="xbn"),
                          L.Dense(2, name="x2")])
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        M.Sequential([L.Dense(3, input_shape=(4,))]).load_weights(path)
    # by name: only layers with the same name; mismatched shapes raise unless skip_mismatch
    by_name = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dense(5, name="d2")])
    keep = by_name.layers[1].get_weights()
    with pytest.raises(ValueError):
        by_name.load_weights(path, by_name=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        by_name.load_weights(path, by_name=True, skip_mismatch=True)
    assert caught
    np.testing.assert_array_equal(by_name.layers[0].get_weights()[0], model.layers[0].get_weights()[0])
    np.testing.assert_array_equal(by_name.layers[1].get_weights()[0], keep[0])
    # load_weights accepts a whole-model file too
    full = str(tmp_path / "full.h5")
    model.compile("sgd", "mse")
    model.save(full)
    other.load_weights(full)


# =============================================================================================
# section 9: callbacks

def mk(lr=0.01):
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(O.SGD(lr=lr), "mse", metrics=["mae"])
    return model


XC = np.random.default_rng(5).random((20, 3)).astype("float32")
YC = np.random.default_rng(6).random((20, 1)).astype("float32")


def test_early_stopping():
    es = C.EarlyStopping(monitor="loss", patience=2)
    # lr 0 and no shuffling: the epoch loss is exactly flat (shuffling would reorder the float sums)
    hist = mk(0.0).fit(XC, YC, epochs=10, verbose=0, callbacks=[es], shuffle=False)
    assert hist.epoch == [0, 1, 2] and es.stopped_epoch == 2
    hist = mk(0.0).fit(XC, YC, epochs=5, verbose=0, callbacks=[C.EarlyStopping(monitor="loss", baseline=0.0)])
    assert hist.epoch == [0]
    assert C.EarlyStopping(monitor="val_acc").monitor_op is np.greater
    assert C.EarlyStopping(monitor="val_loss").monitor_op is np.less
    # restore_best_weights: weights made worse after every epoch come back to the best epoch's
    model = mk(0.0)

    class Worsen(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            w = self.model.get_weights()
            self.model.set_weights([w[0], w[1] + 10.0])

    start = model.get_weights()
    es = C.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    hist = model.fit(XC, YC, epochs=6, verbose=0, callbacks=[Worsen(), es], shuffle=False)
    assert hist.epoch == [0, 1]
    # epoch 0 was best; ES (after Worsen) remembered the weights as they were at its epoch end
    np.testing.assert_allclose(model.get_weights()[1], start[1] + 10.0, atol=1e-5)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk(0.0).fit(XC, YC, epochs=5, verbose=0, callbacks=[C.EarlyStopping(monitor="loss", verbose=1)],
                    shuffle=False)
    assert "Epoch 00002: early stopping" in buf.getvalue()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.EarlyStopping(monitor="nope")])
    assert caught


def test_model_checkpoint(tmp_path):
    pattern = str(tmp_path / "w.{epoch:02d}-{loss:.2f}.h5")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk().fit(XC, YC, epochs=2, verbose=0,
                 callbacks=[C.ModelCheckpoint(pattern, monitor="loss", save_best_only=True, verbose=1)])
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and files[0].startswith("w.01-") and files[1].startswith("w.02-")
    assert "Epoch 00001: loss improved from inf to " in buf.getvalue()
    only_weights = str(tmp_path / "weights.h5")
    mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.ModelCheckpoint(only_weights, save_weights_only=True,
                                                                        monitor="loss")])
    with h5py.File(only_weights, "r") as f:
        assert "layer_names" in f.attrs and "model_config" not in f.attrs
    assert M.load_model(str(tmp_path / files[1])).predict(XC).shape == (20, 1)
    periodic = tmp_path / "periodic"
    periodic.mkdir()
    mk().fit(XC, YC, epochs=4, verbose=0,
             callbacks=[C.ModelCheckpoint(str(periodic / "e{epoch}.h5"), monitor="loss", period=2)])
    assert sorted(os.listdir(periodic)) == ["e2.h5", "e4.h5"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk(0.0).fit(XC, YC, epochs=2, verbose=0, shuffle=False, callbacks=[
            C.ModelCheckpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True, verbose=1)])
    assert "Epoch 00002: loss did not improve from " in buf.getvalue()


def test_reduce_lr_on_plateau_and_scheduler():
    model = mk(1e-9)  # loss stays (nearly) flat
    rl = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e-3, min_lr=1e-10)
    hist = model.fit(XC, YC, epochs=4, verbose=0, callbacks=[rl], shuffle=False)
    # logs['lr'] is read before the epoch's reduction; wait restarts at 0 after each reduction
    np.testing.assert_allclose(hist.history["lr"], [1e-9, 1e-9, 5e-10, 2.5e-10], rtol=1e-5)
    model = mk(1e-9)
    rl = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e-3, cooldown=2, min_lr=4e-10)
    hist = model.fit(XC, YC, epochs=6, verbose=0, callbacks=[rl], shuffle=False)
    np.testing.assert_allclose(hist.history["lr"], [1e-9, 1e-9, 5e-10, 5e-10, 4e-10, 4e-10], rtol=1e-5)
    with pytest.raises(ValueError):
        C.ReduceLROnPlateau(factor=1.0)
    hist = mk().fit(XC, YC, epochs=3, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: 0.1 / (e + 1))])
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    hist = mk().fit(XC, YC, epochs=2, verbose=0, callbacks=[C.LearningRateScheduler(lambda e, lr: lr * 0.5)])
    np.testing.assert_allclose(hist.history["lr"], [0.005, 0.0025], rtol=1e-6)
    with pytest.raises(ValueError):
        mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: "x")])


def test_csv_logger(tmp_path):
    fn = str(tmp_path / "log.csv")
    mk().fit(XC, YC, epochs=2, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(fn)])
    rows = open(fn).read().splitlines()
    assert rows[0] == "epoch,loss,mae,val_loss,val_mae" and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    mk().fit(XC, YC, epochs=1, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(fn, append=True)])
    rows = open(fn).read().splitlines()
    assert len(rows) == 4 and rows[0].startswith("epoch") and not rows[3].startswith("epoch")
    mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.CSVLogger(fn, separator=";")])
    assert open(fn).read().splitlines()[0] == "epoch;loss;mae"


def test_terminate_on_nan_lambda_and_progbar_logger():
    with contextlib.redirect_stdout(io.StringIO()):
        hist = mk(1e30).fit(XC, YC * 1e20, epochs=3, verbose=0, batch_size=2, callbacks=[C.TerminateOnNaN()])
    assert len(hist.epoch) == 1
    seen = []
    cb = C.LambdaCallback(on_train_begin=lambda logs: seen.append("b"), on_epoch_end=lambda e, logs: seen.append(e),
                          on_batch_end=lambda b, logs: None, on_train_end=lambda logs: seen.append("e"))
    mk().fit(XC, YC, epochs=2, verbose=0, callbacks=[cb])
    assert seen == ["b", 0, 1, "e"]
    with pytest.raises(ValueError):
        C.ProgbarLogger(count_mode="nope")
    base = C.Callback()
    for hook in ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end"):
        getattr(base, hook)(0, {})
    base.on_train_begin({})
    base.on_train_end({})


# =============================================================================================
# section 8: activations, initializers, utilities

def test_activations_against_numpy():
    A = keras.activations
    x = (np.random.rand(3, 4).astype("float32") - 0.5) * 6
    t = K.constant(x)
    np.testing.assert_allclose(K.eval(A.selu(t)), 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                                                                 (np.exp(x) - 1)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.hard_sigmoid(t)), np.clip(0.2 * x + 0.5, 0, 1), atol=1e-6)
    np.testing.assert_allclose(K.eval(A.exponential(t)), np.exp(x), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.softsign(t)), x / (1 + np.abs(x)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.softplus(t)), np.log1p(np.exp(x)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.relu(t, alpha=0.1, max_value=2.0)),
                               np.where(x > 0, np.minimum(x, 2.0), 0.1 * x), rtol=1e-5, atol=1e-7)
    x3 = np.random.rand(2, 3, 4).astype("float32")
    e = np.exp(x3 - x3.max(1, keepdims=True))
    np.testing.assert_allclose(K.eval(A.softmax(K.constant(x3), axis=1)), e / e.sum(1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError):
        A.softmax(K.constant(np.ones(3, "float32")))
    assert A.linear(t) is t or np.allclose(K.eval(A.linear(t)), x)


def test_initializers_and_utils():
    I = keras.initializers

    def val(v):
        return np.asarray(K.eval(v) if isinstance(v, K.Tensor) else v)

    g = val(I.glorot_uniform(seed=1)((200, 300)))
    assert np.abs(g).max() <= np.sqrt(6 / 500) and np.abs(g).max() > 0.95 * np.sqrt(6 / 500)
    np.testing.assert_array_equal(val(I.he_normal(seed=3)((4, 5))), val(I.he_normal(seed=3)((4, 5))))
    np.testing.assert_array_equal(val(I.Identity(2.0)((3, 3))), 2 * np.eye(3))
    np.testing.assert_array_equal(val(I.Constant(3)((2,))), [3, 3])
    q = val(I.Orthogonal(seed=1)((6, 4)))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    assert type(I.get("normal")) is I.RandomNormal and type(I.get("uniform")) is I.RandomUniform
    assert defaults(I.RandomNormal) == dict(mean=0.0, stddev=0.05, seed=None)
    assert defaults(I.RandomUniform) == dict(minval=-0.05, maxval=0.05, seed=None)
    assert defaults(I.VarianceScaling) == dict(scale=1.0, mode="fan_in", distribution="normal", seed=None)
    np.testing.assert_array_equal(utils.to_categorical(np.array([[1], [0], [2]])), np.eye(3)[[1, 0, 2]])
    assert utils.to_categorical([1, 0, 2]).dtype == np.float32
    assert utils.to_categorical(np.zeros((2, 3)), 4).shape == (2, 3, 4)
    np.testing.assert_allclose(utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0, 0]])


def test_to_yaml_needs_pyyaml_or_round_trips():
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            model.to_yaml()
        with pytest.raises(ImportError):
            M.model_from_yaml("a: 1")
        return
    clone = M.model_from_yaml(model.to_yaml())
    assert clone.output_shape == (None, 2) and clone.count_params() == model.count_params()


def test_generators_and_sequence():
    x = np.random.rand(12, 3).astype("float32")
    y = np.random.rand(12, 2).astype("float32")
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])

    class Batches(utils.Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 4:(i + 1) * 4], y[i * 4:(i + 1) * 4]

    hist = model.fit_generator(Batches(), epochs=2, verbose=0, validation_data=Batches())
    assert set(hist.history) == {"loss", "mae", "val_loss", "val_mae"} and hist.params["steps"] == 3
    np.testing.assert_allclose(model.evaluate_generator(Batches()), model.evaluate(x, y, batch_size=4, verbose=0),
                               rtol=1e-5)
    np.testing.assert_allclose(model.predict_generator(Batches()), model.predict(x), rtol=1e-6)

    def gen():
        while True:
            yield x[:4], y[:4]

    assert model.fit_generator(gen(), steps_per_epoch=2, epochs=1, verbose=0).epoch == [0]
    with pytest.raises(ValueError):
        model.fit_generator(gen(), epochs=1, verbose=0)  # steps needed for a plain generator


def test_metric_resolution_names_and_dicts():
    x = np.random.rand(12, 3).astype("float32")
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["crossentropy"], weighted_metrics=["mae"])
    assert model.metrics_names == ["loss", "crossentropy", "weighted_mae"]
    i = L.Input((3,))
    two = M.Model(i, [L.Dense(1, name="a")(i), L.Dense(2, name="b")(i)])
    two.compile("sgd", "mse", metrics={"a": ["mae"], "b": "acc"}, loss_weights={"a": 2.0, "b": 0.0})
    assert two.metrics_names == ["loss", "a_loss", "b_loss", "a_mae", "b_acc"]
    ya, yb = np.random.rand(12, 1).astype("float32"), np.random.rand(12, 2).astype("float32")
    out = two.evaluate(x, [ya, yb], verbose=0)
    pa, _ = two.predict(x)
    assert out[0] == pytest.approx(2 * np.mean((pa - ya) ** 2), rel=1e-5)
    temporal = M.Sequential([L.Dense(1, input_shape=(4, 3))])
    temporal.compile(O.SGD(lr=0.0), "mse", sample_weight_mode="temporal")
    xt, yt = np.random.rand(5, 4, 3).astype("float32"), np.random.rand(5, 4, 1).astype("float32")
    sw = np.random.rand(5, 4).astype("float32")
    pt = temporal.predict(xt)
    assert temporal.test_on_batch(xt, yt, sample_weight=sw) == pytest.approx(np.mean(((pt - yt) ** 2)[..., 0] * sw),
                                                                             rel=1e-4)


def test_load_model_custom_objects(tmp_path):
    class Double(L.Layer):
        def call(self, inputs):
            return inputs * 2

    def my_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred), axis=-1)

    i = L.Input((3,))
    model = M.Model(i, Double()(i))
    model.compile("sgd", my_loss)
    path = str(tmp_path / "c.h5")
    model.save(path)
    with pytest.raises(ValueError):
        M.load_model(path)
    loaded = M.load_model(path, custom_objects={"Double": Double, "my_loss": my_loss})
    x = np.random.rand(4, 3).astype("float32")
    np.testing.assert_allclose(loaded.predict(x), 2 * x, rtol=1e-6)
    seq_cfg = {"class_name": "Sequential", "config": M.Sequential([L.Dense(2, input_shape=(3,))]).get_config()}
    assert M.model_from_config(seq_cfg).output_shape == (None, 2)
