"""Global Keras settings: epsilon, floatx, image data format, learning phase, uids."""
from __future__ import annotations

import collections
from typing import Any

_FLOATX_CHOICES = ("float16", "float32", "float64")
_FORMATS = ("channels_first", "channels_last")

_state: dict[str, Any] = {
    "epsilon": 1e-7,
    "floatx": "float32",
    "image_data_format": "channels_last",
    # None: the learning phase is the placeholder returned by learning_phase(); 0/1: fixed.
    "learning_phase_value": None,
}
_uids: collections.defaultdict = collections.defaultdict(int)


def epsilon() -> float:
    """epsilon(): the fuzz factor used in numeric expressions (default 1e-7)."""
    return _state["epsilon"]


def set_epsilon(e: float) -> None:
    """set_epsilon(e): set the fuzz factor."""
    _state["epsilon"] = float(e)


def floatx() -> str:
    """floatx(): the default float type as a string, e.g. 'float32'."""
    return _state["floatx"]


def set_floatx(floatx: str) -> None:
    """set_floatx(floatx): one of 'float16', 'float32', 'float64'."""
    if floatx not in _FLOATX_CHOICES:
        raise ValueError(f"set_floatx: unknown floatx type {floatx!r}; expected one of {_FLOATX_CHOICES}")
    _state["floatx"] = str(floatx)


def cast_to_floatx(x):
    """cast_to_floatx(x): a NumPy array of dtype floatx()."""
    import numpy as np

    return np.asarray(x, dtype=floatx())


def image_data_format() -> str:
    """image_data_format(): 'channels_last' (default) or 'channels_first'."""
    return _state["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """set_image_data_format(data_format): 'channels_last' or 'channels_first'."""
    if data_format not in _FORMATS:
        raise ValueError(f"set_image_data_format: unknown data_format {data_format!r}; expected one of {_FORMATS}")
    _state["image_data_format"] = str(data_format)


def normalize_data_format(value: str | None) -> str:
    """normalize_data_format(value): None -> image_data_format(); validates the string."""
    if value is None:
        value = image_data_format()
    fmt = str(value).lower()
    if fmt not in _FORMATS:
        raise ValueError(f"data_format must be one of {_FORMATS}, got {value!r}")
    return fmt


def image_dim_ordering() -> str:
    """image_dim_ordering(): legacy 'th' (channels_first) or 'tf' (channels_last)."""
    return "th" if image_data_format() == "channels_first" else "tf"


def set_image_dim_ordering(dim_ordering: str) -> None:
    """set_image_dim_ordering(dim_ordering): legacy setter, 'th' or 'tf'."""
    if dim_ordering == "th":
        set_image_data_format("channels_first")
    elif dim_ordering == "tf":
        set_image_data_format("channels_last")
    else:
        raise ValueError(f"set_image_dim_ordering: expected 'th' or 'tf', got {dim_ordering!r}")


def get_uid(prefix: str = "") -> int:
    """get_uid(prefix=''): 1, 2, 3, ... for successive calls with the same prefix."""
    _uids[prefix] += 1
    return _uids[prefix]


def reset_uids() -> None:
    """reset_uids(): the next get_uid(p) returns 1 again."""
    _uids.clear()


def snapshot() -> dict:
    """Copy of the settings (used by tests to restore them)."""
    return dict(_state)


def restore(saved: dict) -> None:
    _state.update(saved)
