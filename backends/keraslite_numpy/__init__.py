"""keraslite_numpy: the reference backend. Plain NumPy, written for clarity; the oracle every
other backend is tested against."""
import numpy as np

from keraslite.backend.interface import ArrayBackend


class NumpyBackend(ArrayBackend):
    """Every primitive from ArrayBackend with xp = numpy."""

    name = "numpy"
    xp = np
