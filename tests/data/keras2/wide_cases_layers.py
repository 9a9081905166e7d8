"""make_wide_files.py cases: layers and model shapes."""
from wide_common import C, I, L, M, O, R, case, keras, small  # noqa: F401
import tensorflow as tf  # noqa: F401


# --- core layers ------------------------------------------------------------------------------
@case("core_dense_nd")
def _():
    inp = L.Input((3, 2, 4))
    h = L.Dense(3, use_bias=False, activation="relu", kernel_constraint=C.unit_norm(axis=0))(inp)
    h = L.Permute((3, 1, 2))(h)
    h = L.Flatten(data_format="channels_first")(L.Reshape((3, 2, 3))(h))
    h = L.RepeatVector(2)(L.Dense(4, bias_initializer="ones", activation="softplus")(h))
    h = L.Activation("softsign")(L.Reshape((8,))(h))
    model = keras.Model(inp, L.Dense(2, activation="linear")(h))
    model.compile(O.SGD(0.05), "mse")
    return model


@case("masking_dense_timedistributed")
def _():
    model = keras.Sequential([L.Masking(mask_value=0.5, input_shape=(5, 3)), L.Dense(4, activation="tanh"),
                              L.TimeDistributed(L.Dense(3)), L.LSTM(2)])
    model.compile(O.Adam(0.01), "mse")
    return model


# --- convolutions: channels_first and the flags -----------------------------------------------
@case("conv1d_flags")
def _():
    inp = L.Input((12, 3))
    a = L.Conv1D(3, 3, padding="causal", dilation_rate=3, use_bias=False, activation="selu")(inp)
    b = L.Conv1D(3, 2, strides=2, padding="same", kernel_initializer="lecun_uniform")(inp)
    b = L.UpSampling1D(2)(b)
    h = L.Concatenate()([a, b])
    h = L.SeparableConv1D(3, 3, strides=1, padding="same", dilation_rate=2, depth_multiplier=2)(h)
    h = L.AveragePooling1D(3, strides=2, padding="valid")(h)
    h = L.MaxPooling1D(2, strides=1, padding="same")(h)
    out = L.Dense(2)(L.Concatenate()([L.GlobalAveragePooling1D()(h), L.GlobalMaxPooling1D()(h)]))
    model = keras.Model(inp, out)
    model.compile(O.Adam(0.01), "mse")
    return model


@case("conv1d_channels_first")
def _():
    inp = L.Input((3, 12))
    h = L.Conv1D(4, 3, data_format="channels_first", activation="relu")(inp)
    h = L.MaxPooling1D(2, data_format="channels_first")(h)
    h = L.AveragePooling1D(2, strides=1, data_format="channels_first", padding="same")(h)
    a = L.GlobalAveragePooling1D(data_format="channels_first")(h)
    b = L.GlobalMaxPooling1D(data_format="channels_first")(h)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([a, b, L.Flatten()(h)])))
    model.compile(O.SGD(0.05, momentum=0.5), "mse")
    return model


@case("conv2d_channels_first")
def _():
    inp = L.Input((2, 9, 8))
    cf = "channels_first"
    h = L.ZeroPadding2D((1, 2), data_format=cf)(inp)
    h = L.Conv2D(3, 3, strides=(2, 1), data_format=cf, activation="relu")(h)
    h = L.Cropping2D(((1, 0), (1, 2)), data_format=cf)(h)
    h = L.SeparableConv2D(4, 2, depth_multiplier=2, data_format=cf, padding="same")(h)
    h = L.DepthwiseConv2D(2, depth_multiplier=1, data_format=cf)(h)
    h = L.UpSampling2D((2, 1), data_format=cf)(h)
    h = L.Conv2DTranspose(2, 3, strides=2, data_format=cf, output_padding=1)(h)
    h = L.MaxPooling2D(2, data_format=cf)(h)
    h = L.AveragePooling2D((2, 1), strides=1, data_format=cf, padding="same")(h)
    a = L.GlobalMaxPooling2D(data_format=cf)(h)
    b = L.GlobalAveragePooling2D(data_format=cf)(h)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([a, b, L.Flatten(data_format=cf)(h)])))
    model.compile(O.RMSprop(0.005), "mse")
    return model


@case("conv2d_bilinear_channels_first")
def _():
    model = keras.Sequential([L.UpSampling2D(2, interpolation="bilinear", data_format="channels_first",
                                             input_shape=(2, 3, 4)),
                              L.Conv2D(2, 3, data_format="channels_first"), L.Flatten(), L.Dense(2)])
    model.compile(O.SGD(0.05), "mse")
    return model


@case("conv3d_channels_first")
def _():
    cf = "channels_first"
    inp = L.Input((1, 6, 5, 6))
    h = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)), data_format=cf)(inp)
    h = L.Conv3D(2, (3, 2, 3), data_format=cf, activation="relu")(h)
    h = L.Cropping3D((1, 0, 1), data_format=cf)(h)
    h = L.UpSampling3D((1, 2, 1), data_format=cf)(h)
    h = L.Conv3DTranspose(2, 2, strides=(1, 2, 1), data_format=cf, padding="same")(h)
    h = L.MaxPooling3D((2, 2, 1), data_format=cf)(h)
    h = L.AveragePooling3D(2, strides=1, padding="same", data_format=cf)(h)
    a = L.GlobalAveragePooling3D(data_format=cf)(h)
    b = L.GlobalMaxPooling3D(data_format=cf)(h)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([a, b])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("conv_transpose_flags")
def _():
    inp = L.Input((5, 5, 2))
    h = L.Conv2DTranspose(3, 3, dilation_rate=2, padding="valid", use_bias=False)(inp)
    h = L.Conv2DTranspose(2, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 2),
                          bias_regularizer=R.l2(0.01))(h)
    h3 = L.Reshape((2, 2, 5, 2))(L.Conv2D(40, 5)(inp))
    h3 = L.Conv3DTranspose(2, 2, strides=2, output_padding=1, padding="same")(h3)
    h3 = L.Conv3DTranspose(1, 3, padding="valid")(h3)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.GlobalAveragePooling2D()(h),
                                                         L.GlobalMaxPooling3D()(h3)])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("depthwise_separable_flags")
def _():
    inp = L.Input((8, 8, 3))
    h = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, depthwise_regularizer=R.l2(0.01),
                          depthwise_constraint=C.max_norm(2.0), depthwise_initializer="he_uniform",
                          bias_initializer="ones", activation="relu")(inp)
    h = L.DepthwiseConv2D(2, dilation_rate=2, use_bias=False)(h)
    h = L.SeparableConv2D(3, 2, dilation_rate=1, padding="same", use_bias=False,
                          pointwise_initializer="glorot_normal", depthwise_initializer="ones")(h)
    h = L.SeparableConv1D(2, 2, depth_multiplier=3)(L.Reshape((4, 3))(h))
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("pooling_all")
def _():
    inp = L.Input((8, 7, 2))
    hs = [L.MaxPooling2D((3, 2), strides=(2, 1), padding="same")(inp), L.AveragePooling2D(3, strides=2)(inp),
          L.AveragePooling2D((2, 3), padding="same")(inp), L.MaxPooling2D()(inp)]
    flat = [L.Flatten()(h) for h in hs]
    seq = L.Reshape((56, 2))(inp)
    flat += [L.Flatten()(L.MaxPooling1D(3, strides=2, padding="same")(seq)),
             L.Flatten()(L.AveragePooling1D(4, padding="valid")(seq))]
    vol = L.Reshape((4, 7, 2, 2))(inp)
    flat += [L.Flatten()(L.MaxPooling3D((2, 3, 1), padding="same")(vol)),
             L.Flatten()(L.AveragePooling3D((1, 2, 2), strides=(1, 1, 2))(vol))]
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()(flat)))
    model.compile(O.SGD(0.01), "mse")
    return model


@case("pad_crop_up_all")
def _():
    inp = L.Input((6, 6, 6, 2))
    v = L.Cropping3D(((0, 1), (1, 1), (2, 0)))(L.ZeroPadding3D(1)(inp))
    v = L.UpSampling3D(2)(L.MaxPooling3D(2)(v))
    s = L.Reshape((36, 12))(inp)
    s = L.Cropping1D(3)(L.ZeroPadding1D(2)(L.UpSampling1D(3)(s)))
    p = L.Reshape((6, 36, 2))(inp)
    p = L.Cropping2D(2)(L.ZeroPadding2D(((0, 1), (3, 0)))(L.UpSampling2D(2, interpolation="nearest")(p)))
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.GlobalAveragePooling3D()(v),
                                                         L.GlobalMaxPooling1D()(s), L.GlobalMaxPooling2D()(p)])))
    model.compile(O.SGD(0.02), "mse")
    return model


@case("tfonly_global_pool_keepdims")
def _():
    inp = L.Input((4, 4, 2))
    h = L.GlobalAveragePooling2D(keepdims=True)(inp)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(O.SGD(0.02), "mse")
    return model


@case("tfonly_conv_groups")
def _():
    model = keras.Sequential([L.Conv2D(4, 3, groups=2, input_shape=(5, 5, 4)), L.Flatten(), L.Dense(2)])
    model.compile(O.SGD(0.02), "mse")
    return model


# --- locally connected, each implementation ---------------------------------------------------
for _impl in (1, 2, 3):
    @case(f"locally_connected_impl{_impl}")
    def _(_impl=_impl):
        inp = L.Input((7, 2))
        a = L.LocallyConnected1D(2, 3, strides=2, implementation=_impl, kernel_regularizer=R.l2(0.01))(inp)
        b = L.LocallyConnected2D(2, (3, 2), strides=(2, 1), implementation=_impl, activation="tanh")(
            L.Reshape((7, 2, 1))(inp))
        c = L.LocallyConnected2D(1, 2, data_format="channels_first", implementation=_impl, use_bias=False)(
            L.Reshape((1, 7, 2))(inp))
        model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c)])))
        model.compile(O.Adam(0.01), "mse")
        return model


@case("locally_connected1d_channels_first")
def _():
    inp = L.Input((3, 8))
    a = L.LocallyConnected1D(2, 2, data_format="channels_first", implementation=2)(inp)
    b = L.LocallyConnected1D(2, 3, strides=2, data_format="channels_first", implementation=1)(inp)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(a), L.Flatten()(b)])))
    model.compile(O.SGD(0.05, momentum=0.9), "mse")
    return model


# --- recurrent layers, flag by flag -----------------------------------------------------------
@case("lstm_flags")
def _():
    inp = L.Input((5, 3))
    a = L.LSTM(3, return_sequences=True, go_backwards=True, unroll=True, implementation=1,
               unit_forget_bias=False, activation="relu", use_bias=False)(inp)
    b = L.LSTM(2, kernel_regularizer=R.l2(0.01), recurrent_regularizer=R.l1(0.01), bias_regularizer=R.l2(0.01),
               kernel_constraint=C.max_norm(2.0), recurrent_constraint=C.max_norm(2.0),
               recurrent_initializer="glorot_uniform", recurrent_activation="hard_sigmoid", implementation=2)(a)
    model = keras.Model(inp, L.Dense(2)(b))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("gru_flags")
def _():
    inp = L.Input((5, 3))
    a = L.GRU(3, return_sequences=True, reset_after=True, unroll=True, implementation=1, use_bias=False)(inp)
    b = L.GRU(3, return_sequences=True, reset_after=False, go_backwards=True, activation="relu")(a)
    c, h = L.GRU(2, return_state=True, reset_after=True, recurrent_activation="hard_sigmoid")(b)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([c, h])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("simplernn_flags")
def _():
    inp = L.Input((5, 3))
    a = L.SimpleRNN(3, return_sequences=True, go_backwards=True, unroll=True, use_bias=False)(inp)
    b, h = L.SimpleRNN(2, return_state=True, activation="relu", recurrent_regularizer=R.l2(0.01))(a)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([b, h, L.Flatten()(a)])))
    model.compile(O.RMSprop(0.01), "mse")
    return model


@case("stateful_rnns", stateful=True, n=4, step_n=4)
def _():
    inp = L.Input(batch_shape=(4, 5, 3))
    a = L.LSTM(3, stateful=True, return_sequences=True)(inp)
    b = L.GRU(2, stateful=True, return_sequences=True)(a)
    c = L.SimpleRNN(2, stateful=True)(b)
    model = keras.Model(inp, L.Dense(2)(c))
    model.compile(O.SGD(0.05), "mse")
    return model


@case("stateful_sequential_bidirectional", stateful=True, n=4, step_n=4)
def _():
    model = keras.Sequential([L.Bidirectional(L.LSTM(2, stateful=True, return_sequences=True),
                                              batch_input_shape=(4, 4, 3)),
                              L.GRU(2, stateful=True, reset_after=False), L.Dense(2)])
    model.compile(O.Adam(0.01), "mse")
    return model


@case("rnn_cells_stacked")
def _():
    inp = L.Input((4, 3))
    cells = L.StackedRNNCells([L.SimpleRNNCell(3), L.GRUCell(2, reset_after=False), L.LSTMCell(2)])
    seq = L.RNN(cells, return_sequences=True, go_backwards=True)(inp)
    out, *states = L.RNN([L.LSTMCell(2), L.GRUCell(3)], return_state=True, unroll=True)(seq)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([out] + tf.nest.flatten(states))))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("bidirectional_return_state")
def _():
    inp = L.Input((5, 3))
    out, fh, fc, bh, bc = L.Bidirectional(L.LSTM(2, return_state=True))(inp)
    seq = L.Bidirectional(L.GRU(2, return_sequences=True, reset_after=False), merge_mode="mul")(inp)
    seq = L.TimeDistributed(L.Dense(2))(seq)
    s2 = L.Bidirectional(L.SimpleRNN(2, go_backwards=True), merge_mode="ave")(seq)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([out, fh, fc, bh, bc, s2])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("bidirectional_masked_embedding", int_inputs={0: 10})
def _():
    inp = L.Input((6,), dtype="int32")
    e = L.Embedding(10, 3, mask_zero=True, embeddings_constraint=C.max_norm(1.5),
                    embeddings_initializer=I.RandomUniform(-0.5, 0.5, seed=1))(inp)
    a = L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="sum")(e)
    b = L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="concat")(a)
    c = L.GRU(2)(b)
    avg = L.GlobalAveragePooling1D()(e)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([c, avg])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("convlstm2d_flags")
def _():
    inp = L.Input((3, 1, 5, 5))
    a = L.ConvLSTM2D(2, 2, data_format="channels_first", return_sequences=True, padding="same",
                     use_bias=False, unit_forget_bias=False)(inp)
    b, h, c = L.ConvLSTM2D(2, 3, data_format="channels_first", return_state=True, dilation_rate=1,
                           activation="relu", recurrent_activation="sigmoid", go_backwards=True)(a)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(t) for t in (b, h, c)])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("timedistributed_more")
def _():
    inp = L.Input((3, 6, 2))
    h = L.TimeDistributed(L.Conv1D(3, 2, activation="relu"))(inp)
    h = L.TimeDistributed(L.BatchNormalization())(h)
    h = L.TimeDistributed(L.GlobalMaxPooling1D())(h)
    inner = keras.Sequential([L.Dense(3, activation="tanh", input_shape=(3,)), L.Dense(2)], name="inner_td")
    h = L.TimeDistributed(inner)(h)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(O.SGD(0.02), "mse")
    return model


# --- normalisation, noise, activations ---------------------------------------------------------
@case("batchnorm_all_args")
def _():
    inp = L.Input((2, 5, 4))
    h = L.BatchNormalization(axis=1, momentum=0.7, epsilon=0.05, center=True, scale=True,
                             beta_initializer="ones", gamma_initializer=I.Constant(0.5),
                             moving_mean_initializer=I.Constant(0.1), moving_variance_initializer="ones",
                             beta_regularizer=R.l2(0.01), gamma_regularizer=R.l1(0.01),
                             beta_constraint=C.max_norm(2.0), gamma_constraint=C.non_neg())(inp)
    h = L.Conv2D(3, 2, data_format="channels_first")(h)
    h = L.BatchNormalization(axis=-1, center=False, scale=False)(h)
    seq = L.Reshape((9, 4))(h)
    seq = L.BatchNormalization(axis=-1)(seq)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(seq)))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("tfonly_batchnorm_renorm")
def _():
    model = keras.Sequential([L.Dense(4, input_shape=(3,)), L.BatchNormalization(renorm=True), L.Dense(2)])
    model.compile(O.SGD(0.02), "mse")
    return model


@case("noise_layers", step=False)
def _():
    inp = L.Input((6,))
    h = L.GaussianNoise(0.5)(L.Dense(4)(inp))
    h = L.GaussianDropout(0.3)(h)
    h = L.AlphaDropout(0.3, seed=1)(L.Activation("selu")(h))
    h = L.Dropout(0.3, noise_shape=(None, 1), seed=2)(h)
    model = keras.Model(inp, L.Dense(2)(h))
    model.compile(O.SGD(0.02), "mse")
    return model


@case("spatial_dropout_channels_first", step=False)
def _():
    inp = L.Input((2, 4, 4, 3))
    a = L.SpatialDropout3D(0.3, data_format="channels_first")(inp)
    b = L.SpatialDropout2D(0.3, data_format="channels_first")(L.Reshape((2, 16, 3))(inp))
    c = L.SpatialDropout1D(0.3)(L.Reshape((32, 3))(inp))
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c)])))
    model.compile(O.SGD(0.02), "mse")
    return model


@case("advanced_activations_args")
def _():
    inp = L.Input((4, 4, 2))
    hs = [L.LeakyReLU()(inp), L.PReLU(alpha_initializer=I.Constant(0.25), shared_axes=[1, 2])(inp),
          L.PReLU()(inp), L.ELU()(inp), L.ThresholdedReLU()(inp), L.Softmax()(inp),
          L.ReLU(max_value=6.0)(inp), L.ReLU(negative_slope=0.2)(inp), L.ReLU(threshold=0.5)(inp)]
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(L.Concatenate()(hs))))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("tfonly_activation_swish")
def _():
    model = keras.Sequential([L.Dense(4, activation="swish", input_shape=(3,)), L.Dense(2)])
    model.compile(O.SGD(0.02), "mse")
    return model


# --- merges -----------------------------------------------------------------------------------
@case("merges_3d")
def _():
    a, b, c = L.Input((4, 3)), L.Input((4, 3)), L.Input((4, 3))
    ms = [L.Add()([a, b, c]), L.Average()([a, b, c]), L.Maximum()([a, b, c]), L.Minimum()([a, c]),
          L.Multiply()([a, b, c]), L.Subtract()([b, c]), a]
    h = L.Concatenate(axis=1)(ms)
    d = L.Dot(axes=[1, 1])([a, b])
    d2 = L.Dot(axes=(2, 2), normalize=True)([b, c])
    model = keras.Model([a, b, c], L.Dense(2)(L.Concatenate()([L.Flatten()(h), L.Flatten()(d), L.Flatten()(d2)])))
    model.compile(O.Adam(0.01), "mse")
    return model


# --- model shapes: nesting, sharing, several inputs and outputs ----------------------------------
@case("multi_io_dicts", targets={"reg_out": "reg", "cls_out": "cat", "bin_out": "bin"})
def _():
    a = L.Input((4,), name="a_in")
    b = L.Input((3, 2), name="b_in")
    h = L.Concatenate()([L.Dense(3, activation="relu")(a), L.Flatten()(b)])
    outs = [L.Dense(2, name="reg_out")(h), L.Dense(3, activation="softmax", name="cls_out")(h),
            L.Dense(1, activation="sigmoid", name="bin_out")(h)]
    model = keras.Model([a, b], outs)
    model.compile(O.Adam(0.01), {"reg_out": "mae", "cls_out": "categorical_crossentropy",
                                 "bin_out": keras.losses.BinaryCrossentropy()},
                  loss_weights={"reg_out": 0.5, "cls_out": 1.0, "bin_out": 2.0},
                  metrics={"reg_out": ["mse"], "cls_out": ["accuracy", M.TopKCategoricalAccuracy(k=2)],
                           "bin_out": "accuracy"},
                  weighted_metrics={"reg_out": ["mae"]})
    return model


@case("multi_io_lists", targets=["reg", "bin"])
def _():
    a, b = L.Input((3,)), L.Input((2,))
    shared = L.Dense(3, activation="tanh", name="shared")
    ha, hb = shared(a), shared(L.Dense(3)(b))
    model = keras.Model([a, b], [L.Add()([ha, hb]), L.Dense(1, activation="sigmoid")(ha)])
    model.compile(O.RMSprop(0.01), ["mse", "binary_crossentropy"], loss_weights=[0.2, 1.0],
                  metrics=["mae"])
    return model


@case("multi_out_one_loss", targets=["reg", "reg"])
def _():
    inp = L.Input((3,))
    h = L.Dense(4)(inp)
    model = keras.Model(inp, [L.Dense(2)(h), L.Dense(1)(h)])
    model.compile(O.SGD(0.05), "mse", metrics=["mae"])
    return model


@case("nested_deep")
def _():
    inner = keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(3)], name="inner")
    i2 = L.Input((3,))
    mid = keras.Model(i2, L.Dense(3, activation="tanh")(inner(i2)), name="mid")
    inp = L.Input((3,))
    h = mid(inp)
    h2 = mid(h)  # the nested model, shared: called twice
    i3 = L.Input((3,))
    sub = keras.Model(i3, L.Dense(3, activation="relu")(i3), name="sub")
    outer = keras.Sequential([sub, L.Dense(2)], name="outer_seq")
    model = keras.Model(inp, L.Add()([L.Dense(2)(h2), outer(inp)]))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("shared_conv_siamese", targets="bin")
def _():
    base_net = keras.Sequential([L.Conv2D(2, 3, activation="relu", input_shape=(5, 5, 1)), L.Flatten(),
                                 L.Dense(3)], name="tower")
    a, b = L.Input((5, 5, 1)), L.Input((5, 5, 1))
    diff = L.Subtract()([base_net(a), base_net(b)])
    model = keras.Model([a, b], L.Dense(1, activation="sigmoid")(L.Multiply()([diff, diff])))
    model.compile(O.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    return model


@case("mixed_float64")
def _():
    inp = L.Input((3,))
    h = L.Dense(4, activation="tanh")(inp)
    h = L.Dense(3, dtype="float64", activation="relu")(h)
    h = L.BatchNormalization(dtype="float64")(h)
    out = L.Dense(2)(h)
    model = keras.Model(inp, out)
    model.compile(O.Adam(0.01), "mse")
    return model


@case("sequential_float64")
def _():
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,), dtype="float64"),
                              L.Dense(2, dtype="float64")])
    model.compile(O.SGD(0.05, momentum=0.5), "mse")
    return model


@case("bidirectional_backward_layer")
def _():
    inp = L.Input((5, 3))
    fwd = L.LSTM(2, return_sequences=True)
    bwd = L.LSTM(2, return_sequences=True, go_backwards=True)
    h = L.Bidirectional(fwd, backward_layer=bwd, merge_mode="sum")(inp)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("tfonly_rescaling_layer")
def _():
    model = keras.Sequential([L.Rescaling(0.5, input_shape=(3,)), L.Dense(2)])
    model.compile(O.SGD(0.02), "mse")
    return model


@case("int_and_float_inputs", int_inputs={0: 8})
def _():
    tok = L.Input((5,), dtype="int32", name="tokens")
    num = L.Input((2,), name="numbers")
    e = L.Embedding(8, 3, mask_zero=True, embeddings_regularizer=R.l2(0.01))(tok)
    seq = L.GRU(3, reset_after=True, return_sequences=True)(e)
    seq = L.TimeDistributed(L.Dense(2, activation="relu"))(seq)
    pooled = L.GlobalAveragePooling1D()(seq)
    h = L.Concatenate()([pooled, L.Dense(2)(num), L.SimpleRNN(2)(e)])
    model = keras.Model([tok, num], L.Dense(2)(h))
    model.compile(O.legacy.Adam(0.01), "mse", metrics=["mae"])
    return model


@case("sepconv_channels_first")
def _():
    cf = "channels_first"
    inp = L.Input((2, 10))
    a = L.SeparableConv1D(3, 3, depth_multiplier=2, data_format=cf, dilation_rate=2, activation="relu")(inp)
    a = L.Conv1D(2, 2, strides=2, data_format=cf, padding="same")(a)
    a = L.UpSampling1D(2)(L.Permute((2, 1))(a))
    b = L.Reshape((2, 5, 2))(inp)
    b = L.DepthwiseConv2D(2, data_format=cf, depth_multiplier=2, padding="same")(b)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(a), L.Flatten()(b)])))
    model.compile(O.legacy.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=0.5), "mse")
    return model


@case("opt_legacy_sgd_clipnorm")
def _():
    return small(O.legacy.SGD(0.5, momentum=0.5, clipnorm=0.05))


@case("input_float64_sequential")
def _():
    model = keras.Sequential([keras.Input((3,), dtype="float64"), L.Dense(4, activation="relu"),
                              L.Dense(2, dtype="float64")])
    model.compile(O.Adam(0.01), "mse")
    return model


@case("timedistributed_bidirectional")
def _():
    inp = L.Input((3, 4, 2))
    h = L.TimeDistributed(L.Bidirectional(L.GRU(2)))(inp)
    h = L.TimeDistributed(L.Dense(2), name="td_dense")(h)
    model = keras.Model(inp, L.Dense(2)(L.Bidirectional(L.LSTM(2), merge_mode="ave")(h)))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("embedding_flatten", int_inputs={0: 12}, targets="bin")
def _():
    model = keras.Sequential([L.Embedding(12, 3, input_length=6), L.Flatten(), L.Dense(4, activation="relu"),
                              L.Dense(1, activation="sigmoid")])
    model.compile(O.RMSprop(0.01), "binary_crossentropy", metrics=["acc"])
    return model


@case("rnn_dropout_predict", step=False)
def _():
    inp = L.Input((5, 3))
    a = L.LSTM(3, dropout=0.2, recurrent_dropout=0.3, return_sequences=True, unroll=True)(inp)
    b = L.GRU(2, dropout=0.1, recurrent_dropout=0.2, reset_after=True)(a)
    c = L.SimpleRNN(2, dropout=0.3, recurrent_dropout=0.1)(inp)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([b, c])))
    model.compile(O.Adam(0.01), "mse")
    return model


@case("same_padding_odd_sizes")
def _():
    inp = L.Input((7, 9, 2))
    a = L.Conv2D(3, 3, strides=2, padding="same")(inp)
    a = L.MaxPooling2D(3, strides=2, padding="same")(a)
    b = L.Conv2D(2, (2, 4), strides=(3, 2), padding="same", data_format="channels_first")(L.Permute((3, 1, 2))(inp))
    b = L.AveragePooling2D(2, padding="same", data_format="channels_first")(b)
    c = L.Conv1D(2, 4, strides=3, padding="same")(L.Reshape((63, 2))(inp))
    c = L.MaxPooling1D(4, strides=3, padding="same")(c)
    model = keras.Model(inp, L.Dense(2)(L.Concatenate()([L.Flatten()(t) for t in (a, b, c)])))
    model.compile(O.SGD(0.05, momentum=0.9, nesterov=True), "mse")
    return model


@case("lambda_anonymous", step=False)
def _():
    model = keras.Sequential([L.Dense(3, input_shape=(4,)), L.Lambda(lambda t: t * 2.0), L.Dense(2)])
    model.compile(O.SGD(0.05), "mse")
    return model

