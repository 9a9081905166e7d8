"""make_files.py cases: every optimizer's state, convolutions, pooling, recurrent layers, losses
and metrics, and more shapes of models (never run by the tests)."""
from more_common import L, case, keras, mlp, scale_up  # noqa: F401


# --- optimizers, each with saved state after a few steps -----------------------------------
for _name, _opt in {
        "opt_sgd": lambda: keras.optimizers.SGD(0.05),
        "opt_sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.8),
        "opt_sgd_nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.7, nesterov=True),
        "opt_rmsprop": lambda: keras.optimizers.RMSprop(0.01, rho=0.8),
        "opt_adagrad": lambda: keras.optimizers.Adagrad(0.05),
        "opt_adadelta": lambda: keras.optimizers.Adadelta(1.0, rho=0.9),
        "opt_adam": lambda: keras.optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99),
        "opt_adam_amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
        "opt_adamax": lambda: keras.optimizers.Adamax(0.02),
        "opt_nadam": lambda: keras.optimizers.Nadam(0.01),
        "opt_legacy_adam": lambda: keras.optimizers.legacy.Adam(0.01),
        "opt_legacy_sgd": lambda: keras.optimizers.legacy.SGD(0.05, momentum=0.9),
        "opt_legacy_rmsprop": lambda: keras.optimizers.legacy.RMSprop(0.01),
        "opt_legacy_nadam": lambda: keras.optimizers.legacy.Nadam(0.01),
}.items():
    case(_name)(lambda _o=_opt: mlp(_o()))


# --- convolutions, pooling, cropping/padding/upsampling ------------------------------------
@case("conv1d_pool")
def _():
    inp = L.Input((12, 3))
    h = L.Conv1D(4, 3, padding="causal", dilation_rate=2, kernel_regularizer=keras.regularizers.l2(0.01),
                 bias_constraint=keras.constraints.max_norm(1.0))(inp)
    h = L.MaxPooling1D(2)(h)
    h = L.Conv1D(4, 3, strides=2, padding="same", activation="tanh")(h)
    h = L.AveragePooling1D(2, padding="same")(h)
    a = L.GlobalMaxPooling1D()(h)
    b = L.GlobalAveragePooling1D()(h)
    out = L.Dense(2)(L.Concatenate()([a, b]))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.SGD(0.02, momentum=0.5), "mse", metrics=["mae"])
    return model


@case("conv2d_family", targets="cat")
def _():
    inp = L.Input((10, 10, 2))
    h = L.Conv2D(3, (3, 2), strides=(1, 2), padding="same", kernel_initializer="he_normal", use_bias=False)(inp)
    h = L.Conv2DTranspose(3, 3, strides=2, padding="valid", activation="relu")(h)
    h = L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same")(h)
    h = L.DepthwiseConv2D(3, depth_multiplier=2, strides=2)(h)
    h = L.Conv2D(2, 2, dilation_rate=2)(h)
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.RMSprop(0.005), "categorical_crossentropy", metrics=["acc"])
    return model


@case("conv3d_family")
def _():
    inp = L.Input((6, 6, 6, 1))
    h = L.Conv3D(2, 3, padding="same", activation="relu")(inp)
    h = L.MaxPooling3D(2)(h)
    h = L.UpSampling3D((2, 1, 2))(h)
    h = L.ZeroPadding3D((1, 0, 1))(h)
    h = L.Cropping3D(((1, 0), (0, 1), (1, 1)))(h)
    h = L.AveragePooling3D(2, strides=1)(h)
    h = L.Conv3DTranspose(2, 2, strides=2)(h)
    a = L.GlobalAveragePooling3D()(h)
    b = L.GlobalMaxPooling3D()(h)
    out = L.Dense(2)(L.Add()([a, b]))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adagrad(0.05), "mae")
    return model


@case("sepconv1d_pad_crop")
def _():
    model = keras.Sequential([
        L.SeparableConv1D(4, 3, depth_multiplier=2, input_shape=(10, 3)),
        L.UpSampling1D(2), L.ZeroPadding1D((1, 2)), L.Cropping1D((2, 1)),
        L.MaxPooling1D(2, strides=1, padding="same"), L.Flatten(), L.Dense(2)])
    model.compile(keras.optimizers.Adadelta(1.0), "mse")
    return model


@case("pad_crop_up_2d", targets="bin")
def _():
    model = keras.Sequential([
        L.ZeroPadding2D(((1, 2), (0, 1)), input_shape=(6, 6, 2)), L.Cropping2D(((1, 0), (2, 1))),
        L.UpSampling2D((2, 1)), L.Conv2D(3, 3, strides=2, activation="elu"),
        L.AveragePooling2D(2, padding="same"), L.MaxPooling2D((2, 1)), L.Flatten(),
        L.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adamax(0.01), "binary_crossentropy", metrics=["binary_accuracy"])
    return model


# --- normalisation ----------------------------------------------------------------------------
@case("batchnorm_variants")
def _():
    model = keras.Sequential([
        L.Dense(5, input_shape=(4,)), L.BatchNormalization(center=False),
        L.Dense(4), L.BatchNormalization(scale=False, momentum=0.9, epsilon=0.01),
        L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("batchnorm_conv")
def _():
    model = keras.Sequential([
        L.Conv2D(3, 3, input_shape=(6, 6, 2)), L.BatchNormalization(axis=-1, momentum=0.8),
        L.Activation("relu"), L.Conv2D(2, 2), L.BatchNormalization(axis=1), L.Flatten(), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


# --- embeddings and recurrent layers ----------------------------------------------------------
@case("embedding_mask_rnn", int_inputs={0: 20})
def _():
    model = keras.Sequential([
        L.Embedding(20, 4, mask_zero=True, input_length=7),
        L.LSTM(5, return_sequences=True, go_backwards=True),
        L.GRU(3, reset_after=False, recurrent_activation="hard_sigmoid"),
        L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01, amsgrad=True), "mse")
    return model


@case("rnn_kinds")
def _():
    inp = L.Input((5, 3))
    a = L.SimpleRNN(3, activation="relu", return_sequences=True, unroll=True)(inp)
    b = L.GRU(4, reset_after=True, return_sequences=True, go_backwards=True)(a)
    c = L.LSTM(3, unit_forget_bias=False, recurrent_activation="sigmoid", use_bias=True,
               implementation=1)(b)
    d = L.RNN([L.LSTMCell(2), L.GRUCell(3), L.SimpleRNNCell(2)])(inp)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([c, d])))
    model.compile(keras.optimizers.RMSprop(0.01), "mse")
    return model


@case("rnn_return_state", targets=["reg", "reg"])
def _():
    inp = L.Input((4, 3))
    inp2 = L.Input((6, 2))
    seq, h, c = L.LSTM(4, return_sequences=True, return_state=True)(inp)
    out2, gh = L.GRU(4, return_state=True)(inp2, initial_state=h)
    s, sh = L.SimpleRNN(4, return_state=True, go_backwards=True)(inp2, initial_state=[c])
    out1 = L.Dense(2)(L.Concatenate()([out2, gh, s, L.Flatten()(seq)]))
    model = keras.Model([inp, inp2], [out1, L.Dense(1)(sh)])
    model.compile(keras.optimizers.Adam(0.01), ["mse", "mae"], loss_weights=[1.0, 0.5])
    return model


@case("bidirectional_modes", targets=["reg", "reg", "reg"])
def _():
    inp = L.Input((5, 3))
    a = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="concat")(inp)
    b = L.Bidirectional(L.GRU(2), merge_mode="sum")(a)
    c = L.Bidirectional(L.SimpleRNN(2), merge_mode="ave")(inp)
    d = L.Bidirectional(L.GRU(2, reset_after=False), merge_mode="mul")(inp)
    f, r = L.Bidirectional(L.LSTM(2), merge_mode=None)(inp)
    model = keras.Model(inp, [L.Concatenate()([b, c, d]), f, r])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return model


@case("timedistributed")
def _():
    inp = L.Input((4, 6, 6, 1))
    h = L.TimeDistributed(L.Conv2D(2, 3))(inp)
    h = L.TimeDistributed(L.MaxPooling2D(2))(h)
    h = L.TimeDistributed(L.Flatten())(h)
    h = L.TimeDistributed(L.Dense(3, activation="relu"))(h)
    out = L.SimpleRNN(2)(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("convlstm2d")
def _():
    model = keras.Sequential([
        L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, input_shape=(3, 5, 5, 1)),
        L.ConvLSTM2D(2, 2, strides=1, recurrent_activation="hard_sigmoid", go_backwards=True),
        L.Flatten(), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


@case("temporal_sample_weight", sample_weight=lambda rs, n: rs.uniform(0.1, 2.0, (n, 5)).astype("float32"))
def _():
    model = keras.Sequential([L.Masking(0.0, input_shape=(5, 3)),
                              L.SimpleRNN(4, return_sequences=True),
                              L.TimeDistributed(L.Dense(2))])
    model.compile(keras.optimizers.Adam(0.01), "mse", sample_weight_mode="temporal")
    return model


# --- merges, core layers, nesting -------------------------------------------------------------
@case("merges", targets={"sum_out": "reg", "cls": "cat"})
def _():
    a = L.Input((4,), name="a")
    b = L.Input((4,), name="b")
    ms = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b]), L.Average()([a, b]),
          L.Maximum()([a, b]), L.Minimum()([a, b]), L.Dot(axes=1, normalize=True)([a, b]),
          L.Dot(axes=-1)([a, b])]
    h = L.Concatenate(axis=-1)(ms)
    model = keras.Model([a, b], [L.Dense(2, name="sum_out")(h), L.Dense(3, activation="softmax", name="cls")(h)])
    model.compile(keras.optimizers.Adam(0.01), {"sum_out": "mse", "cls": "categorical_crossentropy"},
                  loss_weights={"sum_out": 0.3, "cls": 1.5},
                  metrics={"sum_out": ["mae"], "cls": ["accuracy"]})
    return model


@case("core_reshape")
def _():
    model = keras.Sequential([
        L.Dense(8, input_shape=(6,)), L.Reshape((2, 4)), L.Permute((2, 1)), L.Flatten(),
        L.RepeatVector(3), L.Reshape((3, 2, 4)), L.Reshape((-1, 4)), L.Dense(2), L.Flatten(),
        L.ActivityRegularization(l1=0.01, l2=0.01), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("lambda_custom")
def _():
    model = keras.Sequential([L.Dense(3, input_shape=(4,)), L.Lambda(scale_up), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("advanced_activations")
def _():
    inp = L.Input((3, 4))
    hs = [L.LeakyReLU(0.2)(inp), L.PReLU(shared_axes=[1])(inp), L.ELU(0.5)(inp), L.ThresholdedReLU(0.3)(inp),
          L.Softmax(axis=1)(inp), L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2)(inp), L.ReLU()(inp)]
    acts = [L.Activation(a)(inp) for a in ("selu", "softplus", "softsign", "hard_sigmoid", "exponential",
                                           "linear", "elu", "sigmoid", "tanh", "relu", "softmax")]
    h = L.Concatenate()(hs + acts)
    model = keras.Model(inp, L.Dense(2, activation="tanh")(L.Flatten()(h)))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("noise_dropout", step=False)
def _():
    model = keras.Sequential([
        L.Conv1D(4, 2, input_shape=(6, 3)), L.GaussianNoise(0.3), L.SpatialDropout1D(0.3), L.Flatten(),
        L.Dropout(0.4), L.AlphaDropout(0.2), L.GaussianDropout(0.2), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


@case("spatial_dropout_2d3d", step=False)
def _():
    inp = L.Input((4, 4, 4, 2))
    a = L.SpatialDropout3D(0.3)(inp)
    b = L.SpatialDropout2D(0.3)(L.Reshape((4, 16, 2))(inp))
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(a), L.Flatten()(b)])))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


@case("nested_shared", targets=["reg", "cat"])
def _():
    inner = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(3)], name="inner")
    shared = L.Dense(3, name="shared")
    a = L.Input((3,), name="in_a")
    b = L.Input((3,), name="in_b")
    ea, eb = inner(a), inner(b)
    sa, sb = shared(ea), shared(eb)
    model = keras.Model([a, b], [L.Add(name="o1")([sa, sb]), L.Dense(2, activation="softmax", name="o2")(sb)])
    model.compile(keras.optimizers.Adam(0.01), ["mse", "categorical_crossentropy"], loss_weights=[0.5, 2.0],
                  metrics=[["mae"], ["categorical_accuracy"]])
    return model


@case("functional_in_sequential")
def _():
    i = L.Input((4,))
    sub = keras.Model(i, L.Dense(3, activation="sigmoid")(L.Dense(5)(i)), name="sub")
    model = keras.Sequential([L.Dense(4, input_shape=(2,)), sub, L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


# --- initializers, regularizers, constraints --------------------------------------------------
@case("init_reg_constraint")
def _():
    I, R, C = keras.initializers, keras.regularizers, keras.constraints
    inits = [I.Zeros(), I.Ones(), I.Constant(0.3), I.RandomNormal(0.1, 0.2, seed=1), I.RandomUniform(-0.2, 0.3, seed=2),
             I.TruncatedNormal(0.0, 0.1, seed=3), I.VarianceScaling(1.5, "fan_out", "untruncated_normal", seed=4),
             I.Orthogonal(1.2, seed=5), I.Identity(0.5), I.GlorotNormal(seed=6), I.HeUniform(seed=7),
             I.LecunNormal(seed=8), I.LecunUniform(seed=9), I.HeNormal(seed=10), "glorot_uniform"]
    regs = [R.l1(0.01), R.l2(0.02), R.l1_l2(0.01, 0.02), R.L1L2(l1=0.003), None]
    cons = [C.max_norm(2.0, axis=0), C.non_neg(), C.unit_norm(axis=0), C.min_max_norm(0.5, 1.5, rate=0.8, axis=0),
            C.radial_constraint() if False else None]
    inp = L.Input((4,))
    outs = []
    for i, init in enumerate(inits):
        outs.append(L.Dense(4, kernel_initializer=init, bias_initializer=inits[(i + 3) % 4],
                            kernel_regularizer=regs[i % 5], bias_regularizer=regs[(i + 1) % 5],
                            activity_regularizer=regs[(i + 2) % 5], kernel_constraint=cons[i % 5],
                            bias_constraint=cons[(i + 2) % 5])(inp))
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()(outs)))
    model.compile(keras.optimizers.SGD(0.02), "mse")
    return model


# --- losses and metrics -----------------------------------------------------------------------
_LOSSES = {
    "loss_bce": ("bin", "sigmoid", "binary_crossentropy", ["binary_accuracy", "mse"]),
    "loss_sparse_cce": ("sparse", "softmax", "sparse_categorical_crossentropy", ["sparse_categorical_accuracy"]),
    "loss_hinge": ("bin", "tanh", "hinge", ["acc"]),
    "loss_squared_hinge": ("bin", "tanh", "squared_hinge", []),
    "loss_categorical_hinge": ("cat", "linear", "categorical_hinge", []),
    "loss_logcosh": ("reg", "linear", "logcosh", ["mape"]),
    "loss_kld": ("cat", "softmax", "kullback_leibler_divergence", ["cosine_similarity"]),
    "loss_poisson": ("bin", "softplus", "poisson", ["msle"]),
    "loss_msle_mape": ("reg", "softplus", "mean_squared_logarithmic_error", ["mean_absolute_percentage_error"]),
    "loss_objects": ("cat", "softmax", lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.0),
                     lambda: [keras.metrics.CategoricalAccuracy(), keras.metrics.MeanSquaredError()]),
    "loss_huber": ("reg", "linear", lambda: keras.losses.Huber(delta=0.5), lambda: ["mae"]),
    "loss_mse_object": ("reg", "linear", lambda: keras.losses.MeanSquaredError(), lambda: ["mse"]),
}
for _name, (_kind, _act, _loss, _metrics) in _LOSSES.items():
    def _build(_act=_act, _loss=_loss, _metrics=_metrics):
        model = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(3, activation=_act)])
        model.compile(keras.optimizers.Adam(0.01), _loss() if callable(_loss) else _loss,
                      metrics=_metrics() if callable(_metrics) else _metrics)
        return model
    case(_name, targets=_kind)(_build)


@case("sample_weights_bce", targets="bin", sample_weight=lambda rs, n: rs.uniform(0.0, 2.0, n).astype("float32"))
def _():
    model = keras.Sequential([L.Dense(3, activation="relu", input_shape=(4,)), L.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy", weighted_metrics=["accuracy"])
    return model


@case("uncompiled_conv", train=False)
def _():
    return keras.Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1)), L.Flatten(), L.Dense(2)])


# --- more shapes of models ------------------------------------------------------------------
@case("masking_real_zeros", step=False)  # dropout in training
def _():
    model = keras.Sequential([L.Masking(0.0, input_shape=(6, 2)), L.LSTM(3, return_sequences=True),
                              L.Bidirectional(L.GRU(2, dropout=0.1, recurrent_dropout=0.1)), L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("dense_3d_variable_length", int_inputs={0: 9})
def _():
    inp = L.Input((None,), dtype="int32")
    h = L.Embedding(9, 3, embeddings_regularizer=keras.regularizers.l2(0.01))(inp)
    h = L.Conv1D(4, 2, padding="same")(h)
    h = L.Dense(3, activation="relu")(h)
    out = L.GlobalMaxPooling1D()(h)
    model = keras.Model(inp, L.Dense(2)(out))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("sequential_built_later")
def _():
    model = keras.Sequential([L.Dense(4, activation="relu"), L.Dense(2)])
    model.build((None, 3))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("sequential_in_sequential")
def _():
    inner = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(3)])
    model = keras.Sequential([inner, L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.5), "mse")
    return model


@case("fixed_batch_bilinear", step_n=6)
def _():
    inp = L.Input((4, 4, 2), batch_size=6)
    h = L.UpSampling2D(2, interpolation="bilinear")(inp)
    h = L.Conv2D(2, 3, strides=2)(h)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("metric_objects", targets="bin")
def _():
    model = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(1, activation="sigmoid")])
    M = keras.metrics
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy",
                  metrics=[M.AUC(), M.Precision(), M.Recall(), M.BinaryAccuracy(threshold=0.4), "mse",
                           M.BinaryCrossentropy()])
    return model


@case("loss_names_more")
def _():
    model = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(3)])
    model.compile(keras.optimizers.Adam(0.01), "cosine_similarity", metrics=["mae", "mse", "logcosh"])
    return model


@case("layer_normalization")
def _():
    model = keras.Sequential([L.Dense(4, input_shape=(3,)), L.LayerNormalization(), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("rnn_unroll_stacked_return_state", targets=["reg", "reg", "reg"])
def _():
    inp = L.Input((4, 3))
    out, h, c = L.LSTM(3, return_state=True, unroll=True, recurrent_dropout=0.0, dropout=0.0)(inp)
    out2, hb = L.GRU(3, return_state=True, reset_after=False)(inp, initial_state=[h])
    model = keras.Model(inp, [out, L.Add()([out2, hb]), c])
    model.compile(keras.optimizers.RMSprop(0.01), "mse", loss_weights=[1.0, 0.2, 0.3])
    return model


@case("frozen_layers")
def _():
    model = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,), name="frozen"),
                              L.BatchNormalization(name="bn_frozen"), L.Dense(4, name="free"),
                              L.BatchNormalization(name="bn"), L.Dense(2, name="head")])
    model.get_layer("frozen").trainable = False
    model.get_layer("bn_frozen").trainable = False
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("clipping_optimizers")
def _():
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.5, momentum=0.5, clipnorm=0.05), "mse")
    return model


@case("clipvalue_global_clipnorm")
def _():
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(2)])
    model.compile(keras.optimizers.RMSprop(0.01, clipvalue=0.01, global_clipnorm=0.1), "mse")
    return model


@case("output_without_loss", targets=["reg", "reg"])
def _():
    inp = L.Input((3,))
    h = L.Dense(4, activation="relu")(inp)
    model = keras.Model(inp, [L.Dense(2, name="trained")(h), L.Dense(1, name="untrained")(h)])
    model.compile(keras.optimizers.Adam(0.01), {"trained": "mse"})
    return model


@case("no_optimizer_saved", step=False)
def _():
    model = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    model.save_no_optimizer = True
    return model


@case("bidirectional_masked", int_inputs={0: 12})
def _():
    model = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(12, 3, mask_zero=True),
                              L.Bidirectional(L.GRU(3, return_sequences=True)),
                              L.Bidirectional(L.LSTM(2), merge_mode="ave"), L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@case("dot_concat_sequences")
def _():
    a = L.Input((4, 3))
    b = L.Input((5, 3))
    att = L.Softmax(axis=-1)(L.Dot(axes=(2, 2))([a, b]))
    ctx = L.Dot(axes=(2, 1))([att, b])
    h = L.Concatenate(axis=1)([ctx, a])
    model = keras.Model([a, b], L.Dense(2)(L.Flatten()(h)))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("from_logits_sparse", targets="sparse")
def _():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(3)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"])
    return model


@case("from_logits_binary", targets="bin")
def _():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    return model


@case("float64_layers")
def _():
    inp = L.Input((3,), dtype="float64")
    h = L.Dense(4, activation="tanh", dtype="float64")(inp)
    model = keras.Model(inp, L.Dense(2, dtype="float64")(h))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("locally_connected")
def _():
    inp = L.Input((6, 2))
    a = L.LocallyConnected1D(2, 3, activation="relu", implementation=1)(inp)
    b = L.LocallyConnected2D(2, (2, 2), implementation=2)(L.Reshape((6, 2, 1))(inp))
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(a), L.Flatten()(b)])))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@case("transpose_output_padding")
def _():
    inp = L.Input((4, 4, 2))
    h = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1,
                          kernel_regularizer=keras.regularizers.l2(0.01))(inp)
    h = L.PReLU(alpha_regularizer=keras.regularizers.l1(0.01), alpha_constraint=keras.constraints.non_neg())(h)
    h = L.SeparableConv2D(2, 3, strides=2, depthwise_regularizer=keras.regularizers.l2(0.01),
                          pointwise_constraint=keras.constraints.max_norm(2.0))(h)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


# --- weights only -----------------------------------------------------------------------------
@case("weights_only_functional", train=False)
def _():
    inp = L.Input((5, 3))
    h = L.Conv1D(4, 2, name="conv")(inp)
    h = L.BatchNormalization(name="bn")(h)
    h = L.LSTM(3, name="lstm")(h)
    return keras.Model(inp, L.Dense(2, name="head")(h))


@case("weights_only_nested", train=False)
def _():
    inner = keras.Sequential([L.Dense(4, input_shape=(3,), name="d1"), L.Dense(3, name="d2")], name="inner")
    inp = L.Input((3,))
    return keras.Model(inp, L.Dense(2, name="top")(inner(inp)))
