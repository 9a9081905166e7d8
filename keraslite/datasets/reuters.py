"""Reuters newswire topic classification (`keras.datasets.reuters`)."""
from __future__ import annotations

import numpy as np

from ..utils.data_utils import get_file
from . import _sequences as seq
from ._safe_pickle import load_npz

ORIGIN = "https://s3.amazonaws.com/text-datasets/reuters.npz"
FILE_HASH = "87aedbeb0cb229e378797a632c1997b6"
WORD_INDEX_ORIGIN = "https://s3.amazonaws.com/text-datasets/reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3, **kwargs):
    """load_data(path='reuters.npz', num_words=None, skip_top=0, maxlen=None, test_split=0.2,
    seed=113, start_char=1, oov_char=2, index_from=3): 11,228 Reuters newswires in 46 topics, as
    sequences of word indices (indexed by frequency).

    # Arguments
        path: where to cache the data (relative to `~/.keras/datasets`).
        num_words: keep only the `num_words` most frequent words (others become `oov_char`).
        skip_top: skip the top N most frequent words (they become `oov_char`).
        maxlen: keep only sequences shorter than `maxlen` (after adding `start_char`).
        test_split: fraction of the dataset used as test data, in [0, 1).
        seed: random seed for shuffling.
        start_char: the index that marks the start of every sequence (None: no start mark).
        oov_char: the index that replaces cut-out words (None: they are dropped).
        index_from: word indices are shifted up by this much.

    # Returns
        Tuple `(x_train, y_train), (x_test, y_test)`: x are 1-D object arrays of lists of ints,
        y int arrays of topic labels.
    """
    num_words = seq.legacy_num_words(num_words, kwargs, "reuters.load_data")
    seq.check_arguments(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1); got {test_split!r}")
    path = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    arrays = load_npz(path)
    xs, labels = seq.shuffled(np.random.RandomState(seed), arrays["x"], arrays["y"])

    xs = seq.add_offsets(xs, start_char, index_from)
    labels = list(labels)
    if maxlen:
        xs, labels = seq.remove_long_seq(maxlen, xs, labels)
        if not xs:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             f"Increase maxlen.")
    if not num_words:
        num_words = seq.max_word(xs)
    xs = seq.limit_words(xs, num_words, skip_top, oov_char)

    idx = int(len(xs) * (1 - test_split))
    dtype = arrays["y"].dtype
    return ((seq.as_sequence_array(xs[:idx]), np.array(labels[:idx], dtype=dtype)),
            (seq.as_sequence_array(xs[idx:]), np.array(labels[idx:], dtype=dtype)))


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """get_word_index(path='reuters_word_index.json'): the dict mapping words to their index."""
    path = get_file(path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_HASH)
    return seq.load_word_index(path)
