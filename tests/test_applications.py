"""keraslite.applications: every model's parameter count (the keras.io table), Keras 2.3 layer
names and shapes, Keras's argument checks (raised before anything is built or fetched), and each
module's preprocess_input against the NumPy formulas of its mode."""
import time
import warnings

import numpy as np
import pytest

from keraslite import applications
from keraslite import backend as K
from keraslite.applications import (_resnet_common, densenet, imagenet_utils, inception_resnet_v2, inception_v3,
                                    mobilenet, mobilenet_v2, nasnet, resnet, resnet50, resnet_v2, vgg16, vgg19,
                                    xception)
from keraslite.engine.input_layer import Input
from keraslite.layers import Conv2D

# keras.io/applications table (Keras 2.3): total parameters with the top, default input size
KERAS_IO = {
    "ResNet50": (25_636_712, 224), "VGG16": (138_357_544, 224), "VGG19": (143_667_240, 224),
    "InceptionV3": (23_851_784, 299), "Xception": (22_910_480, 299), "MobileNet": (4_253_864, 224),
    "MobileNetV2": (3_538_984, 224), "DenseNet121": (8_062_504, 224), "DenseNet169": (14_307_880, 224),
    "DenseNet201": (20_242_984, 224), "InceptionResNetV2": (55_873_736, 299), "NASNetMobile": (5_326_716, 224),
    "NASNetLarge": (88_949_818, 331), "ResNet101": (44_707_176, 224), "ResNet152": (60_419_944, 224),
    "ResNet50V2": (25_613_800, 224), "ResNet101V2": (44_675_560, 224), "ResNet152V2": (60_380_648, 224),
}

# Keras 2.3 model.summary(): non-trainable parameters (BatchNormalization moving statistics)
NON_TRAINABLE = {
    "ResNet50": 53_120, "VGG16": 0, "VGG19": 0, "InceptionV3": 34_432, "Xception": 54_528, "MobileNet": 21_888,
    "MobileNetV2": 34_112, "DenseNet121": 83_648, "DenseNet169": 158_400, "DenseNet201": 229_056,
    "InceptionResNetV2": 60_544, "NASNetMobile": 36_738, "NASNetLarge": 196_668, "ResNet101": 105_344,
    "ResNet152": 151_424, "ResNet50V2": 45_440, "ResNet101V2": 97_664, "ResNet152V2": 143_744,
}

# Keras 2.3 names (model name; layers that must exist with their output shapes, or None to skip the
# shape; names that must not exist), from keras-applications 1.0.8
EXPECTED = {
    "VGG16": ("vgg16", {"block1_conv1": (None, 224, 224, 64), "block5_conv3": (None, 14, 14, 512),
                        "block5_pool": (None, 7, 7, 512), "flatten": (None, 25088), "fc1": (None, 4096),
                        "fc2": (None, 4096), "predictions": (None, 1000)}, ["block3_conv4"]),
    "VGG19": ("vgg19", {"block3_conv4": (None, 56, 56, 256), "block5_conv4": (None, 14, 14, 512),
                        "fc2": (None, 4096)}, []),
    "ResNet50": ("resnet50", {"conv1_pad": (None, 230, 230, 3), "conv1": (None, 112, 112, 64),
                              "bn_conv1": None, "pool1_pad": (None, 114, 114, 64), "res2a_branch2a": (None, 56, 56, 64),
                              "res2a_branch1": (None, 56, 56, 256), "bn4f_branch2c": (None, 14, 14, 1024),
                              "res5c_branch2c": (None, 7, 7, 2048), "avg_pool": (None, 2048),
                              "fc1000": (None, 1000), "activation_1": None, "max_pooling2d_1": (None, 56, 56, 64)},
                 ["res2b_branch1", "res4g_branch2a"]),
    "InceptionV3": ("inception_v3", {"conv2d_1": (None, 149, 149, 32), "batch_normalization_1": None,
                                     "mixed0": (None, 35, 35, 256), "mixed2": (None, 35, 35, 288),
                                     "mixed3": (None, 17, 17, 768), "mixed7": (None, 17, 17, 768),
                                     "mixed8": (None, 8, 8, 1280), "mixed9_0": (None, 8, 8, 768),
                                     "mixed9_1": (None, 8, 8, 768), "mixed10": (None, 8, 8, 2048),
                                     "conv2d_94": None, "avg_pool": (None, 2048), "predictions": (None, 1000)},
                    ["conv2d_95", "mixed11"]),
    "InceptionResNetV2": ("inception_resnet_v2", {
        "mixed_5b": (None, 35, 35, 320), "block35_1_mixed": (None, 35, 35, 128), "block35_1_conv": (None, 35, 35, 320),
        "block35_10_ac": (None, 35, 35, 320), "mixed_6a": (None, 17, 17, 1088), "block17_20_ac": (None, 17, 17, 1088),
        "mixed_7a": (None, 8, 8, 2080), "block8_9_ac": (None, 8, 8, 2080), "block8_10": (None, 8, 8, 2080),
        "conv_7b": (None, 8, 8, 1536), "conv_7b_bn": None, "conv_7b_ac": (None, 8, 8, 1536),
        "predictions": (None, 1000)}, ["block8_10_ac", "block35_11"]),
    "Xception": ("xception", {"block1_conv1": (None, 149, 149, 32), "block1_conv1_bn": None, "block1_conv2_act": None,
                              "block2_sepconv1": (None, 147, 147, 128), "block2_pool": (None, 74, 74, 128),
                              "block4_pool": (None, 19, 19, 728), "block12_sepconv3_bn": (None, 19, 19, 728),
                              "block13_pool": (None, 10, 10, 1024), "block14_sepconv2_act": (None, 10, 10, 2048),
                              "avg_pool": (None, 2048)}, ["block2_sepconv1_act"]),
    "MobileNet": ("mobilenet_1.00_224", {"conv1_pad": (None, 225, 225, 3), "conv1": (None, 112, 112, 32),
                                         "conv1_relu": None, "conv_dw_1": (None, 112, 112, 32),
                                         "conv_pad_2": (None, 113, 113, 64), "conv_pw_2": (None, 56, 56, 128),
                                         "conv_pw_13_relu": (None, 7, 7, 1024), "reshape_1": (None, 1, 1, 1024),
                                         "dropout": None, "conv_preds": (None, 1, 1, 1000), "reshape_2": (None, 1000),
                                         "act_softmax": (None, 1000)}, ["conv_pad_1", "conv_pad_3"]),
    "MobileNetV2": ("mobilenetv2_1.00_224", {
        "Conv1_pad": (None, 225, 225, 3), "Conv1": (None, 112, 112, 32), "bn_Conv1": None, "Conv1_relu": None,
        "expanded_conv_depthwise": (None, 112, 112, 32), "expanded_conv_project_BN": (None, 112, 112, 16),
        "block_1_expand": (None, 112, 112, 96), "block_1_pad": (None, 113, 113, 96),
        "block_2_add": (None, 56, 56, 24), "block_16_project_BN": (None, 7, 7, 320), "Conv_1": (None, 7, 7, 1280),
        "Conv_1_bn": None, "out_relu": (None, 7, 7, 1280), "Logits": (None, 1000)},
        ["block_1_add", "expanded_conv_expand", "block_17_expand"]),
    "DenseNet121": ("densenet121", {"conv1/conv": (None, 112, 112, 64), "conv1/bn": None, "conv1/relu": None,
                                    "pool1": (None, 56, 56, 64), "conv2_block6_concat": (None, 56, 56, 256),
                                    "pool2_conv": (None, 56, 56, 128), "pool2_pool": (None, 28, 28, 128),
                                    "conv4_block24_concat": (None, 14, 14, 1024),
                                    "conv5_block16_concat": (None, 7, 7, 1024), "bn": None, "relu": (None, 7, 7, 1024),
                                    "avg_pool": (None, 1024), "fc1000": (None, 1000)},
                    ["conv4_block25_concat", "pool5_conv"]),
    "DenseNet169": ("densenet169", {"conv4_block32_concat": (None, 14, 14, 1280),
                                    "conv5_block32_concat": (None, 7, 7, 1664)}, ["conv4_block33_concat"]),
    "DenseNet201": ("densenet201", {"conv4_block48_concat": (None, 14, 14, 1792),
                                    "conv5_block32_concat": (None, 7, 7, 1920)}, ["conv4_block49_concat"]),
    "NASNetMobile": ("NASNet", {"stem_conv1": (None, 111, 111, 32), "stem_bn1": None,
                                "reduction_concat_stem_1": (None, 56, 56, 44), "reduction_concat_stem_2": None,
                                "normal_concat_0": (None, 28, 28, 264), "normal_concat_3": None,
                                "reduction_concat_reduce_4": (None, 14, 14, 352), "normal_concat_5": None,
                                "normal_concat_8": (None, 14, 14, 528), "reduction_concat_reduce_8": None,
                                "normal_concat_12": (None, 7, 7, 1056), "adjust_bn_stem_2": None,
                                "separable_conv_1_pad_reduction_left1_stem_1": None,
                                "predictions": (None, 1000)}, ["normal_concat_4", "normal_concat_13"]),
    "NASNetLarge": ("NASNet", {"stem_conv1": (None, 165, 165, 96), "normal_concat_5": (None, 42, 42, 1008),
                               "reduction_concat_reduce_6": (None, 21, 21, 1344), "normal_concat_12": None,
                               "reduction_concat_reduce_12": (None, 11, 11, 2688),
                               "normal_concat_18": (None, 11, 11, 4032), "predictions": (None, 1000)},
                    ["normal_concat_6", "normal_concat_19"]),
    "ResNet101": ("resnet101", {"conv1_pad": (None, 230, 230, 3), "conv1_conv": (None, 112, 112, 64), "conv1_bn": None,
                                "pool1_pool": (None, 56, 56, 64), "conv2_block1_0_conv": (None, 56, 56, 256),
                                "conv2_block1_add": None, "conv3_block4_out": (None, 28, 28, 512),
                                "conv4_block23_out": (None, 14, 14, 1024), "conv5_block3_3_bn": (None, 7, 7, 2048),
                                "avg_pool": (None, 2048), "probs": (None, 1000)}, ["conv4_block24_out", "fc1000"]),
    "ResNet152": ("resnet152", {"conv3_block8_out": (None, 28, 28, 512), "conv4_block36_out": (None, 14, 14, 1024)},
                  ["conv3_block9_out", "conv4_block37_out"]),
    "ResNet50V2": ("resnet50v2", {"conv1_conv": (None, 112, 112, 64), "pool1_pool": (None, 56, 56, 64),
                                  "conv2_block1_preact_bn": None, "conv2_block1_0_conv": (None, 56, 56, 256),
                                  "conv2_block3_2_pad": (None, 58, 58, 64), "conv2_block3_out": (None, 28, 28, 256),
                                  "conv4_block6_out": (None, 7, 7, 1024), "conv5_block3_out": (None, 7, 7, 2048),
                                  "post_bn": None, "post_relu": (None, 7, 7, 2048), "probs": (None, 1000)},
                   ["conv1_bn", "conv2_block2_0_conv"]),
    "ResNet101V2": ("resnet101v2", {"conv4_block23_out": (None, 7, 7, 1024)}, ["conv4_block24_out"]),
    "ResNet152V2": ("resnet152v2", {"conv3_block8_out": (None, 14, 14, 512), "conv4_block36_out": (None, 7, 7, 1024)},
                    ["conv3_block9_out"]),
}


def _shape(layer):
    shape = layer.output_shape
    return tuple(shape) if shape is not None else None


@pytest.mark.parametrize("name", sorted(KERAS_IO))
def test_parameter_count_layer_names_and_shapes_match_keras(name):
    K.clear_session()  # Keras numbers unnamed layers from 1 in a fresh session
    start = time.perf_counter()
    model = getattr(applications, name)(weights=None)
    elapsed = time.perf_counter() - start
    params, size = KERAS_IO[name]
    assert model.count_params() == params
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == NON_TRAINABLE[name]
    assert model.input_shape == (None, size, size, 3)
    assert model.output_shape == (None, 1000)
    model_name, layers, absent = EXPECTED[name]
    assert model.name == model_name
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    for layer_name, shape in layers.items():
        layer = model.get_layer(layer_name)
        if shape is not None:
            assert _shape(layer) == shape, layer_name
    for layer_name in absent:
        assert layer_name not in names
    print(f"{name}: built in {elapsed:.2f} s")


def test_layer_counts_of_the_simple_models_match_keras():
    # Keras 2.3: VGG16 has 23 layers, VGG19 26, ResNet50 177 (InputLayer included)
    assert len(vgg16.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).layers) == 19
    assert len(resnet50.ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg").layers) == 176
    n_conv = sum(isinstance(l, Conv2D) for l in inception_v3.InceptionV3(weights=None, include_top=False).layers)
    assert n_conv == 94


def _mobilenet_params(alpha, depth_multiplier, classes, include_top):
    """Parameter count of MobileNet written from the paper's layer table, independently of the code."""
    c = int(32 * alpha)
    total = 3 * 3 * 3 * c + 4 * c  # conv1 (no bias) + BN
    for filters in (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024):
        out = int(filters * alpha)
        total += 9 * c * depth_multiplier + 4 * c * depth_multiplier  # depthwise + BN
        total += c * depth_multiplier * out + 4 * out  # pointwise + BN
        c = out
    if include_top:
        total += c * classes + classes  # conv_preds (1x1, with bias)
    return total


@pytest.mark.parametrize("alpha,depth_multiplier,include_top", [(0.5, 1, True), (0.75, 2, False), (0.25, 1, True)])
def test_mobilenet_width_and_depth_multipliers(alpha, depth_multiplier, include_top):
    model = mobilenet.MobileNet(input_shape=(128, 128, 3), alpha=alpha, depth_multiplier=depth_multiplier,
                                include_top=include_top, weights=None, classes=17)
    assert model.count_params() == _mobilenet_params(alpha, depth_multiplier, 17, include_top)
    assert model.name == "mobilenet_%0.2f_128" % alpha


def test_mobilenet_v2_alpha_rounds_channels_to_multiples_of_8():
    model = mobilenet_v2.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    assert model.name == "mobilenetv2_0.35_96"
    # 32 * 0.35 = 11.2 -> 16; 16 * 0.35 -> 8; 320 * 0.35 = 112; the last conv stays 1280 for alpha <= 1
    assert model.get_layer("Conv1").output_shape[-1] == 16
    assert model.get_layer("expanded_conv_project").output_shape[-1] == 8
    assert model.get_layer("block_16_project").output_shape[-1] == 112
    assert model.get_layer("Conv_1").output_shape[-1] == 1280
    wide = mobilenet_v2.MobileNetV2(input_shape=(96, 96, 3), alpha=1.4, include_top=False, weights=None)
    assert wide.get_layer("Conv_1").output_shape[-1] == 1792  # 1280 * 1.4


def test_feature_extractor_defaults_and_pooling():
    model = resnet50.ResNet50(include_top=False, weights=None, input_shape=None, pooling="max")
    assert model.input_shape == (None, None, None, 3)
    assert model.output_shape == (None, 2048)
    with pytest.warns(UserWarning, match="has been changed since Keras 2.2.0"):
        model = resnet50.ResNet50(include_top=False, weights=None, input_shape=(64, 80, 3))
    assert model.output_shape == (None, 2, 3, 2048)
    model = densenet.DenseNet121(include_top=False, weights=None, input_shape=(64, 64, 3), pooling="avg")
    assert model.layers[-1].name == "avg_pool" and model.output_shape == (None, 1024)
    model = densenet.DenseNet121(include_top=False, weights=None, input_shape=(64, 64, 3), pooling="max")
    assert model.layers[-1].name == "max_pool"
    # NASNet keeps a static default input even without the top, as in Keras
    model = nasnet.NASNetMobile(include_top=False, weights=None, pooling="avg")
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1056)
    model = vgg16.VGG16(include_top=True, weights=None, input_shape=(48, 48, 3), classes=3)
    assert model.get_layer("flatten").output_shape == (None, 512) and model.output_shape == (None, 3)


def test_input_tensor_and_its_predecessors_become_the_model_input():
    inp = Input(shape=(40, 40, 3))
    model = xception.Xception(include_top=False, weights=None, input_tensor=inp)
    assert model.inputs[0] is inp
    pre = Conv2D(3, 1, name="pre")(inp)
    model = vgg19.VGG19(include_top=False, weights=None, input_tensor=pre, pooling="avg")
    assert model.inputs[0] is inp
    assert "pre" in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 512)
    plain = K.placeholder(shape=(None, 32, 32, 3))
    model = mobilenet.MobileNet(include_top=False, weights=None, input_tensor=plain, input_shape=(32, 32, 3))
    assert model.input_shape == (None, 32, 32, 3)


def test_channels_first_models():
    K.set_image_data_format("channels_first")
    model = resnet50.ResNet50(include_top=False, weights=None, input_shape=(3, 32, 32), pooling="avg")
    assert model.input_shape == (None, 3, 32, 32) and model.count_params() == 23_587_712
    model = densenet.DenseNet121(weights=None)
    assert model.input_shape == (None, 3, 224, 224) and model.count_params() == 8_062_504
    assert model.get_layer("relu").output_shape == (None, 1024, 7, 7)
    with pytest.raises(ValueError, match="should be \\(3, 224, 224\\)"):
        vgg16.VGG16(weights="imagenet", input_shape=(224, 224, 3))
    with pytest.warns(UserWarning, match="only available for the input data format"):
        model = nasnet.NASNetMobile(weights=None, include_top=False, input_shape=(64, 64, 3))
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 2, 2, 1056)
    with pytest.warns(UserWarning, match="only available for the input data format"):
        assert nasnet.NASNetMobile(weights=None).input_shape == (None, 224, 224, 3)
    assert K.image_data_format() == "channels_first"  # restored after the build


def _no_download(monkeypatch):
    from keraslite.utils import data_utils

    def refuse(*args, **kwargs):
        raise AssertionError("get_file must not be reached")
    monkeypatch.setattr(data_utils, "get_file", refuse)


BAD_ARGUMENTS = [
    (vgg16.VGG16, dict(weights="no/such/file.h5"), "The `weights` argument should be either"),
    (vgg16.VGG16, dict(weights=3), "The `weights` argument should be either"),
    (resnet50.ResNet50, dict(weights="imagenet", classes=10), "`classes` should be 1000"),
    (resnet50.ResNet50, dict(weights=None, classes=0), "`classes` must be a positive integer"),
    (resnet50.ResNet50, dict(weights="imagenet", input_shape=(200, 200, 3)),
     "`input_shape` should be \\(224, 224, 3\\)"),
    (inception_v3.InceptionV3, dict(weights=None, include_top=False, input_shape=(74, 100, 3)),
     "Input size must be at least 75x75"),
    (xception.Xception, dict(weights=None, include_top=False, input_shape=(70, 71, 3)), "at least 71x71"),
    (vgg19.VGG19, dict(weights="imagenet", include_top=False, input_shape=(64, 64, 1)), "must have 3 channels"),
    (densenet.DenseNet169, dict(weights=None, include_top=False, input_shape=(64, 64)),
     "must be a tuple of three integers"),
    (densenet.DenseNet201, dict(weights=None, include_top=True, input_shape=(None, None, 3)),
     "you should specify a static `input_shape`"),
    (inception_resnet_v2.InceptionResNetV2, dict(weights=None, include_top=False, pooling="sum"),
     "`pooling` must be None, 'avg' or 'max'"),
    (mobilenet.MobileNet, dict(weights="imagenet", alpha=0.3), "alpha can be one of"),
    (mobilenet.MobileNet, dict(weights="imagenet", depth_multiplier=2), "depth multiplier must be 1"),
    (mobilenet_v2.MobileNetV2, dict(weights="imagenet", alpha=0.6), "alpha can be one of"),
    (mobilenet_v2.MobileNetV2, dict(weights=None, include_top=False, input_shape=(64, 64, 3),
                                    input_tensor=Input(shape=(32, 32, 3))), "do not meet the same shape"),
    (mobilenet_v2.MobileNetV2, dict(weights=None, input_tensor="image"), "expected a symbolic tensor"),
    (nasnet.NASNetLarge, dict(weights="imagenet", include_top=False, input_shape=(None, None, 3)),
     "must be static"),
    (nasnet.NASNetMobile, dict(weights="imagenet", include_top=True, input_shape=(331, 331, 3)),
     "should be \\(224, 224, 3\\)"),
]


@pytest.mark.parametrize("fn,kwargs,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_keras_errors_before_any_work(monkeypatch, fn, kwargs, message):
    _no_download(monkeypatch)
    with pytest.raises(ValueError, match=message):
        fn(**kwargs)


def test_more_bad_arguments(monkeypatch):
    _no_download(monkeypatch)
    with pytest.raises(ValueError, match="multiple of 24"):
        nasnet.NASNet(penultimate_filters=1000, weights=None)
    with pytest.raises(ValueError, match="ImageNet weights can only be loaded with NASNetLarge or NASNetMobile"):
        nasnet.NASNet(penultimate_filters=1056, default_size=256, weights="imagenet")
    with pytest.raises(ValueError, match="four positive integers"):
        densenet.DenseNet([6, 12, 24], weights=None)
    with pytest.raises(ValueError, match="ImageNet weights exist only"):
        densenet.DenseNet([2, 2, 2, 2], weights="imagenet")
    with pytest.raises(ValueError, match="ImageNet weights exist only for"):
        _resnet_common.ResNet(_resnet_common.v1_stacks(6), False, True, "myresnet", weights="imagenet")
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        resnet_v2.ResNet50V2(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="Unknown Inception-ResNet block type"):
        inception_resnet_v2.inception_resnet_block(Input(shape=(8, 8, 32)), 0.1, "block99", 1)


def test_mobilenet_imagenet_size_fallback_warns(monkeypatch):
    """Non-square or unusual sizes fall back to the 224 weights with Keras's warning."""
    requested = []
    monkeypatch.setattr(mobilenet._builder, "load_weights",
                        lambda model, weights, fname, origin, file_hash: requested.append((fname, origin)))
    with pytest.warns(UserWarning, match="Weights for input shape \\(224, 224\\) will be loaded"):
        model = mobilenet.MobileNet(include_top=False, weights="imagenet", input_shape=(64, 64, 3), alpha=0.25)
    assert requested[-1][0] == "mobilenet_2_5_224_tf_no_top.h5"
    assert requested[-1][1] == mobilenet.BASE_WEIGHT_PATH + "mobilenet_2_5_224_tf_no_top.h5"
    assert model.name == "mobilenet_0.25_224"
    mobilenet.MobileNet(weights="imagenet", input_shape=(160, 160, 3), alpha=0.5)
    assert requested[-1][0] == "mobilenet_5_0_160_tf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mobilenet_v2.MobileNetV2(weights="imagenet", input_shape=(96, 96, 3), alpha=0.35)
    assert requested[-1][0] == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5"


# --- preprocess_input -------------------------------------------------------------------------

CAFFE_MEAN = np.array([103.939, 116.779, 123.68])
TORCH_MEAN = np.array([0.485, 0.456, 0.406])
TORCH_STD = np.array([0.229, 0.224, 0.225])


def _expected(x, mode, channels_first):
    x = np.asarray(x, dtype=np.float64)
    if channels_first:
        x = np.moveaxis(x, -3, -1)
    if mode == "tf":
        out = x / 127.5 - 1.0
    elif mode == "torch":
        out = (x / 255.0 - TORCH_MEAN) / TORCH_STD
    else:
        out = x[..., ::-1] - CAFFE_MEAN
    return np.moveaxis(out, -1, -3) if channels_first else out


MODULE_MODES = [(vgg16, "caffe"), (vgg19, "caffe"), (resnet50, "caffe"), (inception_v3, "tf"), (xception, "tf"),
                (inception_resnet_v2, "tf"), (mobilenet, "tf"), (mobilenet_v2, "tf"), (nasnet, "tf"),
                (densenet, "torch"), (resnet, "caffe"), (resnet_v2, "tf")]


@pytest.mark.parametrize("module,mode", MODULE_MODES, ids=[m.__name__.rsplit(".", 1)[-1] for m, _ in MODULE_MODES])
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("batched", [False, True])
def test_preprocess_input_modes(rng, module, mode, channels_first, batched):
    shape = (2, 5, 4, 3) if batched else (5, 4, 3)
    image = rng.integers(0, 256, size=shape).astype(np.float32)
    if channels_first:
        image = np.ascontiguousarray(np.moveaxis(image, -1, -3))
    expected = _expected(image, mode, channels_first)
    data_format = "channels_first" if channels_first else "channels_last"
    out = module.preprocess_input(image.copy(), data_format=data_format)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    assert module.decode_predictions is imagenet_utils.decode_predictions


def test_preprocess_input_dtype_inplace_and_errors(rng):
    ints = rng.integers(0, 256, size=(3, 3, 3)).astype(np.uint8)
    out = vgg16.preprocess_input(ints)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _expected(ints, "caffe", False), rtol=1e-5, atol=1e-4)
    floats = rng.random((2, 2, 3)).astype(np.float32) * 255
    original = floats.copy()
    out = inception_v3.preprocess_input(floats)
    assert out is floats  # Keras: float input is overwritten in place
    np.testing.assert_allclose(floats, original / 127.5 - 1, rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown data_format"):
        imagenet_utils.preprocess_input(original.copy(), data_format="channels_middle")
    with pytest.raises(ValueError, match="`mode` must be one of"):
        imagenet_utils.preprocess_input(original.copy(), mode="keras")
    with pytest.raises(ValueError, match="needs 3 colour channels"):
        vgg16.preprocess_input(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(TypeError, match="NumPy array or a symbolic tensor"):
        vgg16.preprocess_input([[1, 2, 3]])


@pytest.mark.usefixtures("kbackend")
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_on_symbolic_tensors(rng, mode):
    from keraslite.engine.training import Model
    from keraslite.layers import Lambda
    inp = Input(shape=(4, 5, 3))
    out = Lambda(lambda t: imagenet_utils.preprocess_input(t, mode=mode))(inp)
    model = Model(inp, out)
    image = (rng.random((2, 4, 5, 3)) * 255).astype(np.float32)
    np.testing.assert_allclose(model.predict(image), _expected(image, mode, False), rtol=1e-5, atol=1e-4)


def test_obtain_input_shape_rules():
    obtain = imagenet_utils._obtain_input_shape
    assert obtain(None, 224, 32, "channels_last", require_flatten=False) == (None, None, 3)
    assert obtain(None, 224, 32, "channels_first", require_flatten=False) == (3, None, None)
    assert obtain(None, 299, 75, "channels_last", require_flatten=True, weights="imagenet") == (299, 299, 3)
    with pytest.warns(UserWarning, match="usually expects 1 or 3 input channels"):
        assert obtain((64, 64, 5), 224, 32, "channels_last", require_flatten=False) == (64, 64, 5)
    with pytest.raises(ValueError, match="must be a tuple of three integers"):
        obtain((64, "64", 3), 224, 32, "channels_last", require_flatten=False)
    assert imagenet_utils.correct_pad(Input(shape=(7, 8, 3)), 3) == ((1, 1), (0, 1))
    assert imagenet_utils.correct_pad(Input(shape=(None, None, 3)), (5, 5)) == ((1, 2), (1, 2))


def test_package_is_lazy_and_lists_the_constructors():
    assert set(applications.__all__) == set(KERAS_IO)
    assert applications.DenseNet169 is densenet.DenseNet169
    assert applications.ResNet50 is resnet50.ResNet50  # Keras 2.3: the older module's names at the top level
    assert applications.ResNet152V2 is resnet_v2.ResNet152V2
    assert applications.imagenet_utils is imagenet_utils
    with pytest.raises(AttributeError):
        applications.ResNet9000
