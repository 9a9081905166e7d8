"""keraslite.backend (imported as K): the Keras 2 backend API over the active keraslite backend.

Every function returns a symbolic Tensor; K.eval, K.get_value and K.function produce values.
"""
from . import config
from .config import (cast_to_floatx, epsilon, floatx, get_uid, image_data_format, image_dim_ordering,
                     normalize_data_format, reset_uids, set_epsilon, set_floatx, set_image_data_format,
                     set_image_dim_ordering)
from .graph import Placeholder, Tensor, Variable
from .ops import operators as _operators  # noqa: F401  (binds +, -, [], ... onto Tensor)
from .ops.control import (clear_session, foldl, foldr, in_test_phase, in_train_phase, learning_phase, map_fn, rnn,
                          set_learning_phase, switch)
from .ops.linalg import batch_dot, dot
from .ops.math import (abs, cast, clip, equal, exp, hard_sigmoid, maximum, minimum, not_equal, pow, round,
                       sigmoid, softplus, softsign, sqrt, tanh)
from .ops.math import cos_ as cos
from .ops.math import greater, greater_equal, less, less_equal
from .ops.math import log_ as log
from .ops.math import sign_ as sign
from .ops.math import sin_ as sin
from .ops.math import square_ as square

# configs name a function by __name__ (Keras saves activation=K.cos as 'cos'): the public names
for _fn, _name in ((cos, "cos"), (log, "log"), (sign, "sign"), (sin, "sin"), (square, "square")):
    _fn.__name__ = _fn.__qualname__ = _name
del _fn, _name
from .ops.random import random_binomial, random_normal, random_uniform, truncated_normal
from .ops.reduce import (all, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean, min, prod, std, sum,
                         var)
from .ops.shape import (arange, batch_flatten, concatenate, expand_dims, flatten, gather, one_hot,
                        permute_dimensions, repeat, repeat_elements, reshape, reverse, slice, squeeze, stack, tile,
                        transpose)
from .ops.tensors import (batch_get_value, batch_set_value, constant, count_params, dtype, eval, eye,
                          get_value, get_variable_shape, identity, int_shape, is_keras_tensor, is_placeholder,
                          is_sparse, is_tensor, is_variable, moving_average_update, ndim, ones, ones_like,
                          placeholder, print_tensor, random_normal_variable, random_uniform_variable, set_value,
                          shape, size, to_dense, update, update_add, update_sub, variable, zeros, zeros_like)
from .ops.conv import (conv1d, conv2d, conv2d_transpose, conv3d, conv3d_transpose, depthwise_conv2d, pool2d,
                       pool3d, resize_images, resize_volumes, separable_conv1d, separable_conv2d,
                       spatial_2d_padding, spatial_3d_padding, temporal_padding)
from .ops.nn import (batch_normalization, bias_add, binary_crossentropy, categorical_crossentropy, dropout, elu,
                     in_top_k, l2_normalize, log_softmax, normalize_batch_in_training, relu, selu, softmax,
                     sparse_categorical_crossentropy)
from .ops.compat import (control_dependencies, eager, get_graph, get_session, is_symbolic, set_session, symbolic,
                         v1_variable_initialization)
from .ops.ctc import ctc_batch_cost, ctc_decode, ctc_label_dense_to_sparse
from .ops.local import local_conv1d, local_conv2d
from .autodiff import gradients, stop_gradient
from .compiler import function
from .registry import get_backend as _active_backend_name


def backend() -> str:
    """backend(): the name of the active keraslite backend ('numba', 'cuda', 'numpy', ...)."""
    return _active_backend_name()


def manual_variable_initialization(value: bool) -> None:
    """manual_variable_initialization(value): accepted for compatibility; keraslite variables are
    always initialised when created."""
    config._state["manual_variable_initialization"] = bool(value)


import contextlib as _contextlib


@_contextlib.contextmanager
def name_scope(name):
    """name_scope(name): a context manager accepted for compatibility (names are not scoped)."""
    yield name
