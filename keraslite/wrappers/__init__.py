"""Wrappers that let keraslite models serve other libraries' APIs (Keras 2 `keras.wrappers`)."""
from . import scikit_learn

__all__ = ["scikit_learn"]
