"""User-facing switches of the CUDA backend (environment variables, or the functions below).

* ``KERASLITE_CUDA_TF32=1`` (or ``keraslite_cuda.set_tf32(True)``): float32 matrix products
  (dense layers, convolutions) may use TensorFloat-32 tensor cores: about 3x faster GEMMs on
  Ampere and newer GPUs, with inputs rounded to 10 mantissa bits (results agree with the CPU to
  about 1e-3 relative instead of 1e-6). Off by default.
* ``KERASLITE_CUDA_CONV_AUTOTUNE=0``: do not time the convolution algorithms the first time a
  shape is seen; use the built-in choice instead.
* ``KERASLITE_CUDA_HOST_RNG=1``: draw random numbers on the host with NumPy (the same numbers as
  the CPU backends for the same seed, at the cost of a transfer per draw) instead of with CuPy's
  on-device generator.
"""
from __future__ import annotations

import os

_TRUE = ("1", "true", "yes", "on")
_tf32_override: bool | None = None


def _env_flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() in _TRUE


def tf32_enabled() -> bool:
    """Whether float32 matmuls may use TF32 (set_tf32, else $KERASLITE_CUDA_TF32, else False)."""
    if _tf32_override is not None:
        return _tf32_override
    return _env_flag("KERASLITE_CUDA_TF32", False)


def set_tf32(enabled: bool | None) -> None:
    """set_tf32(True): allow TF32 for float32 matmuls on the cuda backend; set_tf32(False):
    forbid it; set_tf32(None): follow $KERASLITE_CUDA_TF32 again. Takes effect at the next call."""
    global _tf32_override
    _tf32_override = None if enabled is None else bool(enabled)


def conv_autotune_enabled() -> bool:
    return _env_flag("KERASLITE_CUDA_CONV_AUTOTUNE", True)


def host_rng_enabled() -> bool:
    return _env_flag("KERASLITE_CUDA_HOST_RNG", False)
