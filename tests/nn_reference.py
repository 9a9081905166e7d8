"""The NumPy references of the K neural-network ops now live in keraslite.testing.references
(shipped, so that the exported conformance suite can use them); tests import them from here."""
from keraslite.testing.references import *  # noqa: F401,F403
from keraslite.testing.references import EPSILON, SELU_ALPHA, SELU_SCALE  # noqa: F401
