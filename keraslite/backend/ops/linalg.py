"""Linear algebra: the batched matmul primitive, K.dot and K.batch_dot."""
from __future__ import annotations

from ..graph import apply, as_tensor, broadcast_shapes, defop, num_elements, shape_str
from ._util import numpy_result_dtype
from .shape import expand_axes, permute_dimensions, reshape, squeeze_axes, sum_to


def _matmul_infer(a, b):
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: both operands need rank >= 2, got {shape_str(a.shape)} and {shape_str(b.shape)}")
    k1, k2 = a.shape[-1], b.shape[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"dot: the last axis of x {shape_str(a.shape)} ({k1}) does not match the "
                         f"second-to-last axis of y {shape_str(b.shape)} ({k2})")
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    return batch + (a.shape[-2], b.shape[-1]), numpy_result_dtype("matmul", a.dtype, b.dtype)


def _swap_last(t):
    perm = list(range(t.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return permute_dimensions(t, perm)


def _matmul_vjp(g, y, a, b):
    return [sum_to(matmul(g, _swap_last(b)), a), sum_to(matmul(_swap_last(a), g), b)]


defop("matmul", _matmul_infer, _matmul_vjp)


def matmul(a, b):
    return apply("matmul", as_tensor(a), as_tensor(b))


def dot(x, y):
    """dot(x, y): matrix product; for N-D tensors contracts the last axis of x with the
    second-to-last axis of y (result x.shape[:-1] + y.shape[:-2] + y.shape[-1:])."""
    x, y = as_tensor(x), as_tensor(y)
    if x.sparse or y.sparse:
        from ..sparse import dot as sparse_dot
        return sparse_dot(x, y)
    if x.ndim == 0 or y.ndim == 0:
        from .math import mul
        return mul(x, y)
    if x.ndim == 1 and y.ndim == 1:
        return squeeze_axes(matmul(expand_axes(x, (0,)), expand_axes(y, (1,))), (0, 1))
    if x.ndim == 1:
        if y.ndim == 2:
            return squeeze_axes(matmul(expand_axes(x, (0,)), y), (0,))
        x2 = expand_axes(x, (0,))
        return squeeze_axes(dot(x2, y), (0,))
    if y.ndim == 1:
        return squeeze_axes(matmul(x, expand_axes(y, (1,))), (x.ndim - 1,))
    if y.ndim == 2:
        return matmul(x, y)  # matmul broadcasts the 2-D y over x's leading axes
    # y has rank > 2: bring its contracted axis to the front and flatten the rest
    k = y.shape[-2]
    if x.shape[-1] is not None and k is not None and x.shape[-1] != k:
        raise ValueError(f"dot: the last axis of x {shape_str(x.shape)} does not match the "
                         f"second-to-last axis of y {shape_str(y.shape)}")
    rest = y.shape[:-2] + y.shape[-1:]
    if num_elements(rest) is None:
        raise ValueError(f"dot: y {shape_str(y.shape)} must have known dimensions besides the contracted one")
    perm = [y.ndim - 2] + list(range(y.ndim - 2)) + [y.ndim - 1]
    y2 = reshape(permute_dimensions(y, perm), (k if k is not None else -1, num_elements(rest)))
    out = matmul(x, y2)
    target = [d for d in x.shape[:-1]] + list(rest)
    return _reshape_partial(out, x, target)


def _reshape_partial(t, x, target):
    """Reshape to `target`, whose None entries are x's dims at the same positions, taken at run
    time. -1 stands for a single unknown, unless another entry is 0 (then -1 is undetermined)."""
    unknown = sum(d is None for d in target)
    if unknown == 0 or (unknown == 1 and 0 not in target):
        return reshape(t, tuple(-1 if d is None else d for d in target))
    from .shape import shape as shape_
    s = shape_(x)
    return reshape(t, tuple(s[i] if d is None else d for i, d in enumerate(target)))


def batch_dot(x, y, axes=None):
    """batch_dot(x, y, axes=None): for each sample b, np.tensordot of x[b] and y[b] over
    axes (axes[0] of x with axes[1] of y). Default: (x.ndim-1, y.ndim-2), or (x.ndim-1, y.ndim-1)
    when y is 2-D. A rank-1 result is expanded to (batch, 1)."""
    x, y = as_tensor(x), as_tensor(y)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"batch_dot: both inputs need rank >= 2, got {shape_str(x.shape)} and {shape_str(y.shape)}")
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 2 if y.ndim > 2 else y.ndim - 1)
    elif isinstance(axes, int):
        axes = (axes, axes)
    if len(axes) != 2 or any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"batch_dot: axes must be an int or a pair of ints, got {axes!r}")
    ax = axes[0] % x.ndim
    ay = axes[1] % y.ndim
    if ax == 0 or ay == 0:
        raise ValueError(f"batch_dot: cannot contract over the batch axis 0 (axes={axes})")
    bx, by = x.shape[0], y.shape[0]
    if bx is not None and by is not None and bx != by:
        raise ValueError(f"batch_dot: batch sizes differ: {shape_str(x.shape)} and {shape_str(y.shape)}")
    kx, ky = x.shape[ax], y.shape[ay]
    if kx is not None and ky is not None and kx != ky:
        raise ValueError(f"batch_dot: cannot contract axis {ax} of {shape_str(x.shape)} with axis {ay} "
                         f"of {shape_str(y.shape)}")
    xrest = [i for i in range(1, x.ndim) if i != ax]
    yrest = [i for i in range(1, y.ndim) if i != ay]
    xs = [x.shape[i] for i in xrest]
    ys = [y.shape[i] for i in yrest]
    if None in xs or None in ys or (kx is None and ky is None):
        return _batch_dot_dynamic(x, y, ax, ay, xrest, yrest)
    k = kx if kx is not None else ky
    nx, ny = num_elements(tuple(xs)), num_elements(tuple(ys))
    # the batch size is spelled out (not -1): with a zero-size axis, -1 would be undetermined
    batch = bx if bx is not None else by
    x3 = _reshape_partial(permute_dimensions(x, [0] + xrest + [ax]), x, [batch, nx, k])
    y3 = _reshape_partial(permute_dimensions(y, [0, ay] + yrest), y, [batch, k, ny])
    out = matmul(x3, y3)
    target = xs + ys
    return _reshape_partial(out, x if bx is not None or by is None else y, [batch] + (target or [1]))


def _batch_dot_dynamic(x, y, ax, ay, xrest, yrest):
    """batch_dot when some non-batch dimensions are known only at run time: the same
    (batch, rest_x, k) @ (batch, k, rest_y) product with sizes read from K.shape."""
    from .tensors import shape as shape_
    sx, sy = shape_(x), shape_(y)

    def dim(t, s, i):
        return t.shape[i] if t.shape[i] is not None else s[i]

    def prod(dims):
        out = 1
        for d in dims:
            out = d * out if not isinstance(out, int) or not isinstance(d, int) else out * d
        return out
    xdims = [dim(x, sx, i) for i in xrest]
    ydims = [dim(y, sy, i) for i in yrest]
    k = dim(x, sx, ax) if x.shape[ax] is not None or y.shape[ay] is None else dim(y, sy, ay)
    # the batch size is spelled out (not -1): with a zero-size axis, -1 would be undetermined
    b = dim(x, sx, 0) if x.shape[0] is not None or y.shape[0] is None else dim(y, sy, 0)
    x3 = reshape(permute_dimensions(x, [0] + xrest + [ax]), (b, prod(xdims), k))
    y3 = reshape(permute_dimensions(y, [0, ay] + yrest), (b, k, prod(ydims)))
    out = matmul(x3, y3)
    return reshape(out, (b,) + tuple(xdims + ydims or [1]))
