"""Out-of-memory errors: CuPy's pool raises OutOfMemoryError and cuBLAS/cuRAND report
allocation failures as status codes; the backend turns them all into one DeviceMemoryError (a
MemoryError) that names the op, its inputs and the size that could not be allocated. The
compiler adds the tensor being computed as a note."""
from __future__ import annotations

import numpy as np

_OOM_MARKERS = ("cudaErrorMemoryAllocation", "CUBLAS_STATUS_ALLOC_FAILED", "CURAND_STATUS_ALLOCATION_FAILED",
                "CUSOLVER_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED", "out of memory")


class DeviceMemoryError(MemoryError):
    """The GPU ran out of memory; the message names the op, its inputs and the request."""


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, DeviceMemoryError):
        return False  # already described
    if type(exc).__name__ == "OutOfMemoryError":  # cupy.cuda.memory.OutOfMemoryError
        return True
    msg = str(exc)
    return any(m in msg for m in _OOM_MARKERS)


def requested_bytes(exc: BaseException):
    size = getattr(exc, "_size", None)
    return int(size) if isinstance(size, (int, np.integer)) else None


def human(nbytes) -> str:
    if nbytes is None:
        return "an unknown amount"
    n = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024


def describe_array(a) -> str:
    shape = getattr(a, "shape", None)
    if shape is None:
        return type(a).__name__
    dt = getattr(a, "dtype", "?")
    return f"{dt}[{','.join(str(d) for d in shape)}]"


def describe_oom(what: str, arrays, exc: BaseException, info: dict | None) -> str:
    """The DeviceMemoryError message for `what` ("op 'conv'", "a transfer to the device")."""
    parts = [f"keraslite 'cuda' backend: out of GPU memory in {what}"]
    if arrays:
        parts.append(" (inputs " + ", ".join(describe_array(a) for a in arrays) + ")")
    parts.append(f": could not allocate {human(requested_bytes(exc))}")
    if info:
        if "pool_used" in info:
            parts.append(f"; CuPy's memory pool has {human(info['pool_used'])} in use of "
                         f"{human(info['pool_total'])} held")
        if "device_free" in info:
            parts.append(f"; the device has {human(info['device_free'])} free of {human(info['device_total'])}")
    parts.append(". Reduce the batch size or the model, or drop references to arrays and models you no longer "
                 f"need. (CUDA said: {exc})")
    return "".join(parts)


def guard(fn, what: str, backend):
    """Wrap a plan step: out-of-memory becomes DeviceMemoryError; a host (NumPy) array reaching
    a CuPy op (e.g. the result of K.shape) is moved to the device and the call retried."""
    def call(*arrays):
        try:
            return fn(*arrays)
        except Exception as e:
            if is_out_of_memory(e):
                raise DeviceMemoryError(describe_oom(what, arrays, e, backend.memory_info())) from e
            if backend.xp is not np and isinstance(e, (TypeError, ValueError)) and \
                    any(isinstance(a, np.ndarray) for a in arrays):
                moved = [backend.from_numpy(a) if isinstance(a, np.ndarray) else a for a in arrays]
                return call_moved(moved)
            raise

    def call_moved(arrays):
        try:
            return fn(*arrays)
        except Exception as e:
            if is_out_of_memory(e):
                raise DeviceMemoryError(describe_oom(what, arrays, e, backend.memory_info())) from e
            raise

    call.__wrapped__ = fn
    return call
