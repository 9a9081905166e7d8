"""The Keras tutorial summarised in docs/tutorial.md (Korean; "케라스 튜토리얼"), section by section, through
`import keraslite as keras`, with its typos mended (each mend is noted where it happens).

Run: python examples/tutorial.py [backend]     (default: the numba backend)
"""
import sys

import numpy as np

import keraslite as keras
from keraslite import backend as K
from keraslite.initializers import glorot_uniform
from keraslite.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Cropping2D, Dense, Dropout,
                              Flatten, Input, MaxPooling2D, Reshape, ZeroPadding2D)
from keraslite.models import Model, Sequential
from keraslite.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, RMSprop


def section(title):
    print(f"\n=== {title}")


def part1_models():
    section("[1] Sequential and the functional Model API")
    # mended: `Activation=('sigmoid', batch_size=16)` -> batch_size goes to the first layer
    model = Sequential([Dense(input_shape=(2, 2), units=1, batch_size=16), Activation("sigmoid")])
    print("sequential output shape:", model.output_shape)
    model = Sequential()
    model.add(Dense(input_dim=2, units=3))
    model.add(Activation("relu"))
    print("incremental model output shape:", model.output_shape)

    def ResNetLike(input_shape=(64, 64, 3), classes=6):
        # the tutorial elides the blocks ("Conv2/BatchNormalization/Activation/Maxpooling2D");
        # mended: a closing parenthesis on Model(...)
        X_input = Input(input_shape)
        X = ZeroPadding2D((3, 3))(X_input)
        X = Conv2D(8, (7, 7), strides=(2, 2), name="conv1", kernel_initializer=glorot_uniform(seed=0))(X)
        X = BatchNormalization(axis=3, name="bn_conv1")(X)
        X = Activation("relu")(X)
        X = MaxPooling2D((3, 3), strides=(2, 2))(X)
        X = AveragePooling2D((2, 2), name="avg_pool")(X)
        X = Flatten()(X)
        X = Dense(classes, activation="softmax", name="fc" + str(classes),
                  kernel_initializer=glorot_uniform(seed=0))(X)
        return Model(inputs=X_input, outputs=X, name="Resnet50")

    resnet = ResNetLike()
    print("functional model:", resnet.name, resnet.output_shape, resnet.count_params(), "params")
    return resnet


def part2_compile_fit():
    section("[2] compile and fit; optimizers; losses; metrics")
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(200, 2)).astype("float32")
    Y_train = (X_train[:, :1] + X_train[:, 1:] > 0).astype("float32")
    model = Sequential([Dense(8, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    history = model.fit(X_train, Y_train, epochs=20, batch_size=16, verbose=0)
    print("sgd/mse history keys:", sorted(history.history), "final acc %.3f" % history.history["accuracy"][-1])

    for opt in (SGD(lr=0.01, momentum=0.0, decay=0.0, nesterov=False), RMSprop(lr=0.001, rho=0.9, epsilon=None,
                decay=0.0), Adagrad(lr=0.01, epsilon=None, decay=0.0), Adadelta(lr=1.0, rho=0.95, epsilon=None,
                decay=0.0), Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False),
                Adamax(lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0)):
        m = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
        m.compile(optimizer=opt, loss="binary_crossentropy")
        print(f"  {type(opt).__name__:8s} loss after 3 epochs: {m.fit(X_train, Y_train, epochs=3, verbose=0).history['loss'][-1]:.4f}")

    sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(loss="binary_crossentropy", optimizer=sgd, metrics=["accuracy"])
    model.fit(x=X_train, y=Y_train, epochs=50, batch_size=20, verbose=0)  # the tutorial runs 500 epochs

    for loss in ("mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                 "mean_squared_logarithmic_error", "binary_crossentropy", "kullback_leibler_divergence",
                 "poisson", "cosine_proximity"):
        m = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
        m.compile(optimizer="adam", loss=loss)
        m.fit(X_train, Y_train, epochs=1, verbose=0)
    y3 = keras.utils.to_categorical(rng.integers(3, size=(200, 1)), num_classes=3)
    for loss, y in (("categorical_crossentropy", y3), ("sparse_categorical_crossentropy", y3.argmax(-1))):
        m = Sequential([Dense(3, input_dim=2, activation="softmax")])
        m.compile(optimizer="adam", loss=loss, metrics=["accuracy", "top_k_categorical_accuracy"]
                  if loss.startswith("categorical") else ["sparse_categorical_accuracy"])
        print(f"  {loss}: {m.fit(X_train, y, epochs=1, verbose=0).history}")

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy", mean_pred])
    model.fit(X_train, Y_train, epochs=2, verbose=0)
    print("metrics_names:", model.metrics_names)
    return model, X_train, Y_train


def part3_evaluate(model, X_test, Y_test):
    section("[3] evaluate: [loss, accuracy, mean_pred]")
    preds = model.evaluate(X_test, Y_test, verbose=0)
    print(preds)


def part4_layer_rules():
    section("[4] layer weights, config, nodes")
    layer = Dense(32)
    config = layer.get_config()
    reconstructed_layer = Dense.from_config(config)
    print("config round trip:", reconstructed_layer.get_config() == config)
    x = Input((16,))
    y = layer(x)
    weights = layer.get_weights()
    layer.set_weights([w * 0 + 1 for w in weights])
    print("single node:", layer.input_shape, layer.output_shape, layer.input is x, layer.output is y)
    layer(Input((16,)))
    print("two nodes:", layer.get_input_shape_at(1), layer.get_output_shape_at(1),
          layer.get_input_at(0) is x, layer.get_output_at(0) is y)


def convmodel(input_shape=(32, 32, 3), classes=10):
    X_input_tensor = Input(input_shape)
    X = ZeroPadding2D((3, 3))(X_input_tensor)
    X = Conv2D(filters=32, kernel_size=(3, 3), strides=(1, 1), padding="valid",
               kernel_initializer=glorot_uniform(seed=0), name="conv1")(X)
    X = BatchNormalization(axis=3, name="bn_conv1")(X)
    X = Activation("relu")(X)
    X = MaxPooling2D((3, 3), strides=(2, 2))(X)

    X = Conv2D(filters=64, kernel_size=(3, 3), strides=(1, 1), padding="valid",
               kernel_initializer=glorot_uniform(seed=0), name="conv2")(X)
    X = BatchNormalization(axis=3, name="bn_conv2")(X)
    X = Activation("relu")(X)
    X = MaxPooling2D((3, 3), strides=(2, 2))(X)

    X = Flatten()(X)
    X = Dense(units=classes, activation="softmax", name="fc" + str(classes),
              kernel_initializer=glorot_uniform(seed=0))(X)
    return Model(inputs=X_input_tensor, outputs=X, name="convmodel")


def part5_convnet(epochs=5):
    section("[5] the convolutional model")
    x_train = np.random.normal(loc=20, scale=3, size=3072000).reshape((1000, 32, 32, 3))
    y_train = keras.utils.to_categorical(np.random.randint(10, size=(1000, 1)), num_classes=10)
    x_test = np.random.normal(loc=20, scale=3, size=307200).reshape((100, 32, 32, 3))
    y_test = keras.utils.to_categorical(np.random.randint(10, size=(100, 1)), num_classes=10)
    model = convmodel(input_shape=(32, 32, 3), classes=10)
    model.summary()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=50, epochs=epochs)
    score = model.evaluate(x_test, y_test, batch_size=50)
    print("score:", score)
    return model


def part6_layers():
    section("[6] core, convolutional and pooling layers")
    Dense(units=32, input_shape=(16,), activation=None, kernel_initializer="glorot_uniform")
    Activation(activation="relu")
    Dropout(rate=0.5, noise_shape=None, seed=None)
    Flatten(data_format=None)
    model = Sequential()
    model.add(Dense(input_shape=(32, 32, 3), units=16))  # mended: `outputs=16` is not a Dense keyword
    print("Dense on 3-D input:", model.output_shape)
    model.add(Flatten())
    print("after Flatten:", model.output_shape)
    model.add(Reshape((32, 32, 16)))
    print("after Reshape:", model.output_shape)
    Conv2D(16, kernel_size=(3, 3), strides=(1, 1), padding="valid", use_bias=True,
           kernel_initializer="glorot_uniform", bias_initializer="zeros")
    Cropping2D(cropping=((0, 0), (0, 0)), data_format=None)
    MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid")
    AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid")  # mended: closing parenthesis


def part7_channels_first():
    section("[7] channels_first")
    K.set_image_data_format("channels_first")
    x = Input((3, 16, 16))
    y = MaxPooling2D((2, 2))(Conv2D(4, (3, 3))(x))
    print("channels_first conv/pool shape:", K.int_shape(y))
    K.set_image_data_format("channels_last")


def part8_backend():
    section("[8] the backend (K)")
    input_tensor = K.placeholder(shape=(None, None, 3), ndim=3, dtype="float32")
    var0 = K.eye(size=3)
    var1 = K.zeros(shape=(3, 3))
    var2 = K.ones(shape=(3, 3))
    var3 = K.variable(value=np.random.random((224, 224, 3)), dtype="float32", name="example_var", constraint=None)
    var4 = K.constant(value=np.zeros((2, 2)), dtype="int32", shape=(2, 2), name="ex_constant")
    var5 = K.variable(value=np.array([[2, 2], [4, 3]]), dtype="float32")
    print(K.eval(var5))
    arr = np.array([[1, 2], [3, 4]])
    var6 = K.ones_like(arr, dtype="float32")
    var7 = K.zeros_like(arr, dtype="int32")
    var8 = K.identity(arr, name="identity")
    b = K.random_uniform_variable(shape=(64, 64, 3), low=0, high=1)
    c = K.random_normal_variable(shape=(64, 64, 3), mean=0, scale=1)
    a = b * K.abs(c)
    # mended: K.dot(a, K.transpose(b)) contracts 3 with 64 and fails in Keras 2 as well; a slice
    # of b gives the intended (64, 64, 3) . (3, 64) product
    c = K.dot(a, K.transpose(b[0]))
    a = K.sum(b, axis=1)
    a = K.softmax(b)
    a = K.concatenate([b, c], axis=-1)
    a = K.concatenate([b, b], axis=0)  # mended: b and c differ on the last axis, so only axis=-1 joins them
    print("dot / concatenate shapes:", K.int_shape(c), K.int_shape(a), K.eval(a).shape)
    print(K.backend(), K.epsilon())
    K.set_epsilon(1e-05)
    K.set_floatx("float16")
    K.set_floatx("float32")
    K.set_epsilon(1e-07)
    K.set_image_data_format("channels_last")
    K.clear_session()
    K.learning_phase()
    keras_placeholder = K.placeholder(shape=(2, 4, 5))
    keras_input = Input(shape=[10])
    keras_layer_output = Dense(units=10)(keras_input)
    print("is_keras_tensor:", K.is_keras_tensor(keras_placeholder), K.is_keras_tensor(keras_input),
          K.is_keras_tensor(keras_layer_output))
    x = K.random_normal_variable(shape=(16, 16, 3), name="x", dtype="float32", mean=0, scale=1)
    print(K.ndim(x), K.dtype(x))
    var9 = K.random_normal_variable(shape=(4, 4, 4), dtype="float32", mean=0, scale=1)
    print(K.count_params(var9))
    var10 = K.cast(var9, dtype="float64")
    print(var10)
    old = K.random_normal_variable(shape=(2, 2), dtype="float32", mean=0, scale=1)
    new = K.random_uniform_variable(shape=(2, 2), dtype="float32", low=0, high=1)
    K.eval(K.update(old, new))
    K.dot(old, new)
    K.transpose(old)
    var11 = K.variable(value=np.array([[1, 2], [3, 4]]))
    what = K.gather(reference=var11, indices=0)
    print(K.eval(what))
    result = K.max(var11, axis=0, keepdims=False)
    print(K.eval(result))
    result = K.cumprod(var11, axis=0)
    print(K.eval(result), K.eval(K.argmax(result, axis=0)))
    # K.gradients on a placeholder, compiled with K.function
    x = K.placeholder(shape=(None, 3))
    loss = K.sum(K.square(x))
    grad, = K.gradients(loss, [x])
    print(K.function([x], [grad])([np.ones((2, 3))])[0])
    del input_tensor, var0, var1, var2, var3, var4, var6, var7, var8


def main(backend_name=None):
    if backend_name:
        keras.set_backend(backend_name)
    part1_models()
    model, X, Y = part2_compile_fit()
    part3_evaluate(model, X, Y)
    part4_layer_rules()
    part5_convnet()
    part6_layers()
    part7_channels_first()
    part8_backend()
    print("\ntutorial finished on backend", keras.get_backend())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
