"""Numba CPU kernels (convolution, pooling, batch norm) for the keraslite_numba backend."""
