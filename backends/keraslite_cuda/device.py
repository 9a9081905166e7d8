"""Finding CuPy and a device. Nothing here runs at import: `import_cupy()` is called only when the
cuda backend is created, so importing keraslite or keraslite_cuda never touches CUDA."""
from __future__ import annotations

from keraslite.backend.registry import BackendUnavailableError

INSTALL_HINT = ('install CuPy for your CUDA version: pip install "keraslite[cuda12]" (CUDA 12) or '
                'pip install "keraslite[cuda13]" (CUDA 13); or use keraslite.set_backend("auto") to fall '
                'back to the CPU')


def import_cupy():
    """The cupy module, once it imports and a device answers; else BackendUnavailableError
    saying why (CuPy missing, CuPy broken, no device or driver) and how to fix it."""
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(
            f"the 'cuda' backend needs CuPy, which is not installed ({e}); {INSTALL_HINT}") from None
    except Exception as e:  # a broken CUDA install can fail at import with other errors
        raise BackendUnavailableError(f"the 'cuda' backend could not import CuPy: {e}; {INSTALL_HINT}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        raise BackendUnavailableError(
            f"the 'cuda' backend found CuPy but no usable CUDA device or driver ({e}); check `nvidia-smi` and "
            "that the driver supports the CUDA version of your cupy-cuda package (cupy-cuda12x needs a CUDA 12 "
            "driver, cupy-cuda13x a CUDA 13 one)") from None
    if count < 1:
        raise BackendUnavailableError("the 'cuda' backend found CuPy but no CUDA device; check `nvidia-smi`")
    try:
        cupy.cuda.Device(0).compute_capability  # noqa: B018 - touches the device once
    except Exception as e:
        raise BackendUnavailableError(f"the 'cuda' backend could not open CUDA device 0 ({e}); check "
                                      "`nvidia-smi`") from None
    _smoke_test(cupy)
    return cupy


def _smoke_test(cupy) -> None:
    """One tiny kernel, compiled and run: CuPy can import and see a device yet be unable to compile
    (NVRTC missing or of another CUDA version) or launch kernels; that must show now, as
    BackendUnavailableError, not at the first training step."""
    try:
        value = float((cupy.arange(4, dtype=cupy.float32) * 2).sum())
    except Exception as e:
        raise BackendUnavailableError(
            f"the 'cuda' backend found CuPy and device 0 but could not run a kernel ({type(e).__name__}: {e}); "
            "check that the CUDA libraries (NVRTC, cuBLAS) match your cupy-cuda package") from None
    if value != 12.0:
        raise BackendUnavailableError(f"the 'cuda' backend ran a test kernel on device 0 and got {value} instead "
                                      "of 12.0; the device or driver is faulty")


def memory_info(cupy) -> dict:
    """Bytes used and held by CuPy's memory pool, and free/total on the current device."""
    pool = cupy.get_default_memory_pool()
    info = {"pool_used": int(pool.used_bytes()), "pool_total": int(pool.total_bytes())}
    try:
        free, total = cupy.cuda.runtime.memGetInfo()
        info.update(device_free=int(free), device_total=int(total))
    except Exception:
        pass
    return info


def event_timer(cupy):
    """timer(fn) -> seconds of device time fn took (CUDA events; synchronises)."""
    def timer(fn):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / 1e3
    return timer
