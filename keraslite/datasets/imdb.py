"""IMDB movie review sentiment classification (`keras.datasets.imdb`)."""
from __future__ import annotations

import numpy as np

from ..utils.data_utils import get_file
from . import _sequences as seq
from ._safe_pickle import load_npz

ORIGIN = "https://s3.amazonaws.com/text-datasets/imdb.npz"
FILE_HASH = "599dadb1135973df5b59232a0e9a887c"
WORD_INDEX_ORIGIN = "https://s3.amazonaws.com/text-datasets/imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
              seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3,
              **kwargs):
    """load_data(path='imdb.npz', num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
    oov_char=2, index_from=3): the IMDB dataset, 25,000 training and 25,000 test reviews as
    sequences of word indices (indexed by frequency), labelled 1 (positive) or 0 (negative).

    # Arguments
        path: where to cache the data (relative to `~/.keras/datasets`).
        num_words: keep only the `num_words` most frequent words (others become `oov_char`).
        skip_top: skip the top N most frequent words (they become `oov_char`).
        maxlen: keep only sequences shorter than `maxlen` (after adding `start_char`).
        seed: random seed for shuffling.
        start_char: the index that marks the start of every sequence (None: no start mark).
        oov_char: the index that replaces cut-out words (None: they are dropped).
        index_from: word indices are shifted up by this much.

    # Returns
        Tuple `(x_train, y_train), (x_test, y_test)`: x are 1-D object arrays of lists of ints,
        y int arrays of labels.

    # Raises
        ValueError: when `maxlen` is so low that no sequence is kept.
    """
    num_words = seq.legacy_num_words(num_words, kwargs, "imdb.load_data")
    seq.check_arguments(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    path = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    arrays = load_npz(path)
    rng = np.random.RandomState(seed)
    x_train, labels_train = seq.shuffled(rng, arrays["x_train"], arrays["y_train"])
    x_test, labels_test = seq.shuffled(rng, arrays["x_test"], arrays["y_test"])

    x_train = seq.add_offsets(x_train, start_char, index_from)
    x_test = seq.add_offsets(x_test, start_char, index_from)
    labels_train, labels_test = list(labels_train), list(labels_test)
    if maxlen:
        # train and test are filtered separately, so no test review moves into the training set
        x_train, labels_train = seq.remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = seq.remove_long_seq(maxlen, x_test, labels_test)
        if not x_train and not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             f"Increase maxlen.")
    xs = x_train + x_test
    if not num_words:
        num_words = seq.max_word(xs)
    xs = seq.limit_words(xs, num_words, skip_top, oov_char)

    idx = len(x_train)
    dtype = arrays["y_train"].dtype
    return ((seq.as_sequence_array(xs[:idx]), np.array(labels_train, dtype=dtype)),
            (seq.as_sequence_array(xs[idx:]), np.array(labels_test, dtype=dtype)))


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """get_word_index(path='imdb_word_index.json'): the dict mapping words to their index."""
    path = get_file(path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_HASH)
    return seq.load_word_index(path)
