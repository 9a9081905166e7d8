"""The public surface of SPEC.md and spec/LAYERS_OPTIMIZERS.md: names where Keras 2 puts them,
Keras 2 argument names and defaults, and the Layer contract (section 1). Behaviour on small
examples checked against NumPy: tests/test_spec_surface_*.py.
"""
import json

import numpy as np
import pytest

import keraslite as keras
from keraslite import backend as K
from keraslite import callbacks as C
from keraslite import layers as L
from keraslite import losses
from keraslite import models as M
from keraslite import optimizers as O
from keraslite import utils

from spec_surface_helpers import EPS, arg_names, defaults
from spec_surface_helpers import _fresh_session  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.usefixtures("kbackend")


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
