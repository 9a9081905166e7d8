"""keraslite.datasets (`keras.datasets`): Keras 2's small datasets, downloaded once through
`keraslite.utils.get_file` (cached under `~/.keras/datasets`) from the same URLs, checked against the
same file hashes, and returned as NumPy arrays by each module's `load_data()`.

No file is unpickled with plain `pickle`: the CIFAR batches and the object arrays of imdb/reuters are
read by a restricted unpickler that admits only NumPy arrays and plain containers.
"""
from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing"]
