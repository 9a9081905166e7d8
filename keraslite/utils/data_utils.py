"""Data feeding helpers (`keras.utils.data_utils`): the Sequence base class.

`get_file` is not offered: keraslite never reaches the network.
"""
from __future__ import annotations

from typing import Any, Iterator


class Sequence:
    """Sequence: a dataset of batches for fit_generator and friends.

    Subclasses implement `__getitem__(index)` (the batch at `index`, e.g. `(x, y)`) and `__len__()`
    (the number of batches per epoch); `on_epoch_end()` runs after each epoch (shuffle there).
    Unlike a plain generator, a Sequence is indexable, so every batch is seen once per epoch.
    """

    use_sequence_api = True

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch; does nothing by default."""

    def __iter__(self) -> Iterator[Any]:
        """Each batch in order, once."""
        for index in range(len(self)):
            yield self[index]


# the enqueuers import nothing from here, so this import at the end makes no cycle
from .enqueuers import GeneratorEnqueuer, OrderedEnqueuer, SequenceEnqueuer  # noqa: E402
