"""The word-index processing shared by imdb and reuters (Keras 2's `load_data` semantics)."""
from __future__ import annotations

import json
import warnings

import numpy as np


def legacy_num_words(num_words, kwargs: dict, where: str):
    """Keras 2 still accepts the old `nb_words` name; any other keyword is a TypeError."""
    if "nb_words" in kwargs:
        warnings.warn("The `nb_words` argument in `load_data` has been renamed `num_words`.")
        num_words = kwargs.pop("nb_words")
    if kwargs:
        raise TypeError(f"{where}: Unrecognized keyword arguments: {kwargs}")
    return num_words


def check_arguments(num_words, skip_top, maxlen, start_char, oov_char, index_from) -> None:
    for name, value, optional in (("num_words", num_words, True), ("skip_top", skip_top, False),
                                  ("maxlen", maxlen, True), ("start_char", start_char, True),
                                  ("oov_char", oov_char, True), ("index_from", index_from, False)):
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"load_data: {name} must be a non-negative integer{' or None' if optional else ''}; "
                             f"got {value!r}")


def shuffled(rng: np.random.RandomState, *arrays):
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [array[indices] for array in arrays]


def add_offsets(xs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [int(w) + index_from for w in x] for x in xs]
    return [[int(w) + index_from for w in x] for x in xs]


def remove_long_seq(maxlen, seqs, labels):
    """Keep the pairs whose sequence is strictly shorter than `maxlen` (Keras 2's rule)."""
    kept = [(x, y) for x, y in zip(seqs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_words(xs, num_words, skip_top, oov_char):
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def max_word(xs) -> int:
    return max((max(x) for x in xs if len(x)), default=0)


def as_sequence_array(xs) -> np.ndarray:
    """A 1-D object array of Python lists (one per sample), as Keras returns; never a 2-D array,
    even if every sequence happens to have the same length."""
    out = np.empty(len(xs), dtype=object)
    for i, x in enumerate(xs):
        out[i] = list(x)
    return out


def load_word_index(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        index = json.load(handle)
    if not isinstance(index, dict):
        raise ValueError(f"{path} is not a word index (a JSON object)")
    return index
