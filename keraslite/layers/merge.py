"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot and their
functional forms add, subtract, multiply, average, maximum, minimum, concatenate, dot."""
from __future__ import annotations

from .. import backend as K
from ..engine.base_layer import Layer
from ._utils import shape_str


class _Merge(Layer):
    """Element-wise merge of a list of >= 2 tensors (shapes equal or broadcast-compatible)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._reshape_required = False

    def _merge_function(self, inputs):
        raise NotImplementedError

    def _elemwise_shape(self, shape1, shape2, all_shapes):
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return self._elemwise_shape(shape2, shape1, all_shapes)
        if not shape2:
            return tuple(shape1)
        output_shape = list(shape1[:-len(shape2)])
        for i, j in zip(shape1[-len(shape2):], shape2):
            if i is None or j is None:
                output_shape.append(None)
            elif i == 1:
                output_shape.append(j)
            elif j == 1:
                output_shape.append(i)
            else:
                if i != j:
                    raise ValueError(f"{type(self).__name__} ({self.name}): operands could not be broadcast together "
                                     f"with shapes {shape_str(tuple(shape1))} {shape_str(tuple(shape2))} (inputs "
                                     f"{shape_str([tuple(s) for s in all_shapes])})")
                output_shape.append(i)
        return tuple(output_shape)

    def _check_list(self, input_shape):
        if not isinstance(input_shape, list):
            raise ValueError(f"A merge layer ({type(self).__name__} {self.name}) should be called on a list of "
                             "inputs.")
        if len(input_shape) < 2:
            raise ValueError(f"A merge layer ({type(self).__name__} {self.name}) should be called on a list of at "
                             f"least 2 inputs. Got {len(input_shape)} inputs.")

    def _output_shape(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s is not None and len(s)} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"{type(self).__name__} ({self.name}): can not merge tensors with different batch sizes. "
                             f"Got tensors with shapes: {shape_str([tuple(s) for s in input_shape])}")
        output_shape = None if input_shape[0] is None else tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            shape = None if shape is None else tuple(shape[1:])
            output_shape = self._elemwise_shape(output_shape, shape, input_shape)
        batch = list(batch_sizes)[0] if batch_sizes else None
        return None if output_shape is None else (batch,) + tuple(output_shape)

    def build(self, input_shape):
        self._output_shape(input_shape)
        self._reshape_required = len({len(s) for s in input_shape}) != 1
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, list):
            raise ValueError(f"A merge layer ({type(self).__name__} {self.name}) should be called on a list of "
                             "inputs.")
        if self._reshape_required:
            max_ndim = max(K.ndim(x) for x in inputs)
            reshaped = []
            for x in inputs:
                for _ in range(max_ndim - K.ndim(x)):
                    x = K.expand_dims(x, 1)
                reshaped.append(x)
            return self._merge_function(reshaped)
        return self._merge_function(inputs)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, list):
            raise ValueError(f"{type(self).__name__} ({self.name}): `mask` should be a list.")
        if not isinstance(inputs, list):
            raise ValueError(f"{type(self).__name__} ({self.name}): `inputs` should be a list.")
        if len(mask) != len(inputs):
            raise ValueError(f"{type(self).__name__} ({self.name}): the lists `inputs` and `mask` should have the "
                             "same length.")
        if all(m is None for m in mask):
            return None
        masks = [K.expand_dims(m, 0) for m in mask if m is not None]
        return K.all(K.concatenate(masks, axis=0), axis=0, keepdims=False)


class Add(_Merge):
    """Add(): element-wise sum of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output


class Subtract(_Merge):
    """Subtract(): inputs[0] - inputs[1] (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer ({self.name}) should be called on exactly 2 inputs, got "
                             f"{len(input_shape)}")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer ({self.name}) should be called on exactly 2 inputs, got "
                             f"{len(inputs)}")
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Multiply(): element-wise product of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output * x
        return output


class Average(_Merge):
    """Average(): element-wise mean of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output / float(len(inputs))


class Maximum(_Merge):
    """Maximum(): element-wise maximum of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = K.maximum(output, x)
        return output


class Minimum(_Merge):
    """Minimum(): element-wise minimum of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = K.minimum(output, x)
        return output


class Concatenate(_Merge):
    """Concatenate(axis=-1): join a list of tensors whose shapes agree except on `axis`."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.supports_masking = True

    def _check(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"A `Concatenate` layer ({self.name}) should be called on a list of at least 2 inputs")
        if all(shape is None for shape in input_shape):
            return
        shapes = [tuple(s) for s in input_shape]
        ranks = {len(s) for s in shapes}
        bad = len(ranks) != 1
        if not bad:
            rank = ranks.pop()
            if not -rank <= self.axis < rank:
                raise ValueError(f"Concatenate ({self.name}): axis {self.axis} is out of range for inputs of rank "
                                 f"{rank}: {shape_str(shapes)}")
            axis = self.axis % rank
            for i in range(rank):
                if i == axis:
                    continue
                dims = {s[i] for s in shapes} - {None}
                if len(dims) > 1:
                    bad = True
        if bad:
            raise ValueError(f"A `Concatenate` layer ({self.name}) requires inputs with matching shapes except for "
                             f"the concat axis (axis={self.axis}). Got inputs shapes: {shape_str(shapes)}")

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def call(self, inputs):
        return K.concatenate(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        input_shapes = [tuple(s) for s in input_shape]
        output_shape = list(input_shapes[0])
        rank = len(output_shape)
        axis = self.axis % rank
        for shape in input_shapes[1:]:
            if output_shape[axis] is None or shape[axis] is None:
                output_shape[axis] = None
                break
            output_shape[axis] += shape[axis]
        for i in range(rank):  # a dim known on any input is known on the output
            if i != axis and output_shape[i] is None:
                known = [s[i] for s in input_shapes if s[i] is not None]
                if known:
                    output_shape[i] = known[0]
        return tuple(output_shape)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, list):
            raise ValueError(f"Concatenate ({self.name}): `mask` should be a list.")
        if not isinstance(inputs, list):
            raise ValueError(f"Concatenate ({self.name}): `inputs` should be a list.")
        if len(mask) != len(inputs):
            raise ValueError(f"Concatenate ({self.name}): the lists `inputs` and `mask` should have the same length.")
        if all(m is None for m in mask):
            return None
        masks = []
        for input_i, mask_i in zip(inputs, mask):
            if mask_i is None:
                masks.append(K.cast(K.ones_like(input_i), "bool"))
            elif K.ndim(mask_i) < K.ndim(input_i):
                masks.append(K.expand_dims(mask_i))
            else:
                masks.append(mask_i)
        concatenated = K.concatenate(masks, axis=self.axis)
        return K.all(concatenated, axis=-1, keepdims=False)

    def get_config(self):
        config = {"axis": self.axis}
        return dict(list(super().get_config().items()) + list(config.items()))


class Dot(_Merge):
    """Dot(axes, normalize=False): per-sample dot product of two tensors over `axes` (an int or a
    pair); normalize=True l2-normalises both along those axes first (cosine proximity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Dot ({self.name}): invalid type for `axes` - should be a list or an int, got "
                                f"{axes!r}")
            if len(axes) != 2:
                raise ValueError(f"Dot ({self.name}): invalid format for `axes` - should contain two elements, got "
                                 f"{axes!r}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError(f"Dot ({self.name}): invalid format for `axes` - list elements should be \"int\", "
                                 f"got {axes!r}")
            axes = tuple(axes)
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _axes_for(self, ndims):
        if isinstance(self.axes, int):
            if self.axes < 0:
                return [self.axes % ndims[0], self.axes % ndims[1]]
            return [self.axes] * 2
        return [a % n if a < 0 else a for a, n in zip(self.axes, ndims)]

    def _check(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ValueError(f"A `Dot` layer ({self.name}) should be called on a list of 2 inputs.")
        shape1, shape2 = tuple(input_shape[0]), tuple(input_shape[1])
        axes = self._axes_for((len(shape1), len(shape2)))
        for a, s in zip(axes, (shape1, shape2)):
            if not 0 < a < len(s):
                raise ValueError(f"Dot ({self.name}): axes {self.axes} are invalid for inputs {shape_str(shape1)} and "
                                 f"{shape_str(shape2)} (axis 0 is the batch axis)")
        d1, d2 = shape1[axes[0]], shape2[axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"Dot ({self.name}): dimension incompatibility {d1} != {d2}. Layer shapes: "
                             f"{shape_str(shape1)}, {shape_str(shape2)}")
        return shape1, shape2, axes

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def _merge_function(self, inputs):
        x1, x2 = inputs
        axes = self._axes_for((K.ndim(x1), K.ndim(x2)))
        if self.normalize:
            x1 = K.l2_normalize(x1, axis=axes[0])
            x2 = K.l2_normalize(x2, axis=axes[1])
        return K.batch_dot(x1, x2, axes)

    def call(self, inputs):
        if not isinstance(inputs, list) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer ({self.name}) should be called on a list of 2 inputs.")
        return self._merge_function(inputs)

    def compute_output_shape(self, input_shape):
        shape1, shape2, axes = self._check(input_shape)
        shape1, shape2 = list(shape1), list(shape2)
        shape1.pop(axes[0])
        shape2.pop(axes[1])
        shape2.pop(0)
        output_shape = shape1 + shape2
        if len(output_shape) == 1:
            output_shape += [1]
        return tuple(output_shape)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = {"axes": self.axes, "normalize": self.normalize}
        return dict(list(super().get_config().items()) + list(config.items()))


def add(inputs, **kwargs):
    """add(inputs, **kwargs): Add()(inputs)."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """subtract(inputs, **kwargs): Subtract()(inputs)."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """multiply(inputs, **kwargs): Multiply()(inputs)."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """average(inputs, **kwargs): Average()(inputs)."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """maximum(inputs, **kwargs): Maximum()(inputs)."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """minimum(inputs, **kwargs): Minimum()(inputs)."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """concatenate(inputs, axis=-1, **kwargs): Concatenate(axis)(inputs)."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes, normalize=False, **kwargs):
    """dot(inputs, axes, normalize=False, **kwargs): Dot(axes, normalize)(inputs)."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
