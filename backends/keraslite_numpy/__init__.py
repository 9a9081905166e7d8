"""keraslite_numpy: the reference backend. Plain NumPy, written for clarity; the oracle every
other backend is tested against."""
import numpy as np

from keraslite.backend.interface import ArrayBackend
from keraslite.backend.xp.core import OUT_MODES


class NumpyBackend(ArrayBackend):
    """Every primitive from ArrayBackend with xp = numpy."""

    name = "numpy"
    xp = np
    # the primitives that write into the compiler's pooled buffers (interface.py, memplan.py)
    out_modes = OUT_MODES
