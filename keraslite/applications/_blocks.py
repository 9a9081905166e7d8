"""The layer blocks several application networks share: batch normalization followed by an
activation, and a convolution followed by both. Each network passes its own Keras 2.3 layer
names, axis and hyperparameters, so layer names, configs and parameter counts stay as Keras's."""
from __future__ import annotations

from . import _builder


def bn_axis() -> int:
    """The BatchNormalization axis of a 4-D image tensor written as Keras's Inception, ResNet
    and DenseNet code writes it: 1 (channels_first) or 3, never -1."""
    return 1 if _builder.channel_axis() == 1 else 3


def suffixed(name, suffix: str):
    """name + suffix, or None (an automatic layer name) without a name."""
    return None if name is None else name + suffix


def bn_act(x, bn_name=None, act_name=None, activation="relu", axis=None, epsilon=1e-3, scale=True):
    """bn_act(x, bn_name=None, act_name=None, activation='relu', axis=None, epsilon=1e-3,
    scale=True): BatchNormalization (on `axis`, bn_axis() by default), then Activation unless
    `activation` is None."""
    from ..layers import Activation, BatchNormalization
    x = BatchNormalization(axis=bn_axis() if axis is None else axis, epsilon=epsilon, scale=scale, name=bn_name)(x)
    return x if activation is None else Activation(activation, name=act_name)(x)


def conv_bn(x, filters, kernel_size, strides=1, padding="valid", use_bias=True, name=None, bn_name=None,
            act_name=None, activation="relu", axis=None, epsilon=1e-3, scale=True, batch_norm=True,
            kernel_initializer="glorot_uniform"):
    """conv_bn(x, filters, kernel_size, strides=1, padding='valid', use_bias=True, name=None,
    bn_name=None, act_name=None, activation='relu', axis=None, epsilon=1e-3, scale=True,
    batch_norm=True, kernel_initializer='glorot_uniform'): Conv2D named `name`, then (with
    `batch_norm`) BatchNormalization and (unless `activation` is None) Activation, as bn_act."""
    from ..layers import Activation, Conv2D
    x = Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
               kernel_initializer=kernel_initializer, name=name)(x)
    if batch_norm:
        return bn_act(x, bn_name, act_name, activation, axis, epsilon, scale)
    return x if activation is None else Activation(activation, name=act_name)(x)
