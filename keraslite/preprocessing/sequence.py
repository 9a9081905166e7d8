"""keraslite.preprocessing.sequence (`keras.preprocessing.sequence`): padding, skip-gram pairs
and windowed time-series batches."""
from __future__ import annotations

import json
import random

import numpy as np

from ..utils.data_utils import Sequence

__all__ = ["pad_sequences", "make_sampling_table", "skipgrams", "TimeseriesGenerator"]


def pad_sequences(sequences, maxlen=None, dtype='int32', padding='pre', truncating='pre', value=0.):
    """pad_sequences(sequences, maxlen=None, dtype='int32', padding='pre', truncating='pre', value=0.)

    Pads (or truncates) a list of sequences (lists of scalars, or of equally shaped arrays) to a
    common length and returns a NumPy array of shape `(len(sequences), maxlen) + sample_shape`.
    `maxlen` defaults to the longest sequence. `padding`/`truncating` ('pre' or 'post') say at
    which end values are added or removed. String values need `dtype=object` (or a str dtype).
    """
    if not hasattr(sequences, '__len__'):
        raise ValueError('`sequences` must be iterable.')
    num_samples = len(sequences)
    lengths = []
    sample_shape = ()
    found_shape = False
    for s in sequences:
        try:
            n = len(s)
        except TypeError:
            raise ValueError('`sequences` must be a list of iterables. Found non-iterable: ' + str(s)) from None
        lengths.append(n)
        if not found_shape and n:
            sample_shape = np.asarray(s).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    maxlen = int(maxlen)
    if padding not in ('pre', 'post'):
        raise ValueError('Padding type "%s" not understood' % (padding,))
    if truncating not in ('pre', 'post'):
        raise ValueError('Truncating type "%s" not understood' % (truncating,))

    kind = np.dtype(dtype).kind
    if isinstance(value, str) and kind not in ('O', 'U', 'S'):
        raise ValueError("`dtype` {} is not compatible with `value`'s type: {}\nYou should set `dtype=object` "
                         "for variable length strings.".format(dtype, type(value)))

    x = np.full((num_samples, maxlen) + tuple(sample_shape), value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        trunc = s[-maxlen:] if truncating == 'pre' else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != tuple(sample_shape):
            raise ValueError('Shape of sample %s of sequence at position %s is different from expected shape %s'
                             % (trunc.shape[1:], idx, sample_shape))
        if padding == 'post':
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, maxlen - len(trunc):] = trunc
    return x


def make_sampling_table(size, sampling_factor=1e-5):
    """make_sampling_table(size, sampling_factor=1e-5)

    `table[i]`: the probability of keeping the i-th most common word when sampling skip-grams,
    from a Zipf approximation of word frequencies (word2vec's subsampling,
    `p = min(1, sqrt(f / sampling_factor) / (f / sampling_factor))`).
    """
    gamma = 0.577
    rank = np.arange(size, dtype='float64')
    if size:
        rank[0] = 1
    inv_fq = rank * (np.log(rank) + gamma) + 0.5 - 1. / (12. * rank)
    f = sampling_factor * inv_fq
    return np.minimum(1., f / np.sqrt(f))


def skipgrams(sequence, vocabulary_size, window_size=4, negative_samples=1., shuffle=True, categorical=False,
              sampling_table=None, seed=None):
    """skipgrams(sequence, vocabulary_size, window_size=4, negative_samples=1., shuffle=True,
    categorical=False, sampling_table=None, seed=None) -> (couples, labels)

    Word index 0 is skipped (it is the padding/non-word index). Positive couples are
    `[word, context]` within `window_size`; `negative_samples` times as many negative couples draw
    the context uniformly from `[1, vocabulary_size)`. Labels are 1/0, or `[0, 1]`/`[1, 0]` when
    `categorical`. Uses Python's `random` module as Keras does; `seed` only fixes the shuffle.
    """
    couples = []
    labels = []
    n = len(sequence)
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        if sampling_table is not None and sampling_table[wi] < random.random():
            continue
        for j in range(max(0, i - window_size), min(n, i + window_size + 1)):
            if j == i:
                continue
            wj = sequence[j]
            if not wj:
                continue
            couples.append([wi, wj])
            labels.append([0, 1] if categorical else 1)

    if negative_samples > 0 and couples:
        num_negative = int(len(labels) * negative_samples)
        words = [c[0] for c in couples]
        random.shuffle(words)
        couples += [[words[i % len(words)], random.randint(1, vocabulary_size - 1)] for i in range(num_negative)]
        if categorical:
            labels += [[1, 0] for _ in range(num_negative)]
        else:
            labels += [0] * num_negative

    if shuffle:
        if seed is None:
            seed = random.randint(0, 10 ** 7)
        random.Random(seed).shuffle(couples)
        random.Random(seed).shuffle(labels)
    return couples, labels


def _remove_long_seq(maxlen, seq, label):
    """Drops the sequences (and their labels) longer than `maxlen`."""
    new_seq, new_label = [], []
    for x, y in zip(seq, label):
        if len(x) < maxlen:
            new_seq.append(x)
            new_label.append(y)
    return new_seq, new_label


class TimeseriesGenerator(Sequence):
    """TimeseriesGenerator(data, targets, length, sampling_rate=1, stride=1, start_index=0,
    end_index=None, shuffle=False, reverse=False, batch_size=128)

    A Sequence of `(samples, targets)` batches from a time series: the sample for row `t` is
    `data[t - length:t:sampling_rate]` and its target `targets[t]`, for `t` from
    `start_index + length` to `end_index` (inclusive, default the last row) in steps of `stride`.
    With `shuffle`, every batch draws `batch_size` random rows instead; `reverse` reverses time.
    """

    def __init__(self, data, targets, length, sampling_rate=1, stride=1, start_index=0, end_index=None,
                 shuffle=False, reverse=False, batch_size=128):
        if len(data) != len(targets):
            raise ValueError('Data and targets have to be of same length. Data length is {} while target length '
                             'is {}'.format(len(data), len(targets)))
        self.data = data
        self.targets = targets
        self.length = length
        self.sampling_rate = sampling_rate
        self.stride = stride
        self.start_index = start_index + length
        if end_index is None:
            end_index = len(data) - 1
        self.end_index = end_index
        self.shuffle = shuffle
        self.reverse = reverse
        self.batch_size = batch_size
        if self.start_index > self.end_index:
            raise ValueError('`start_index+length=%i > end_index=%i` is disallowed, as no part of the sequence '
                             'would be left to be used as current step.' % (self.start_index, self.end_index))

    def __len__(self):
        step = self.batch_size * self.stride
        return (self.end_index - self.start_index + step) // step

    def __getitem__(self, index):
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            i = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(i, min(i + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[row - self.length:row:self.sampling_rate] for row in rows])
        targets = np.array([self.targets[row] for row in rows])
        if self.reverse:
            return samples[:, ::-1, ...], targets
        return samples, targets

    def get_config(self):
        """The constructor arguments (data and targets as JSON-able lists)."""
        def as_json(a):
            return np.asarray(a).tolist() if isinstance(a, np.ndarray) else a

        return {'data': as_json(self.data), 'targets': as_json(self.targets), 'length': self.length,
                'sampling_rate': self.sampling_rate, 'stride': self.stride,
                'start_index': self.start_index - self.length, 'end_index': self.end_index,
                'shuffle': self.shuffle, 'reverse': self.reverse, 'batch_size': self.batch_size}

    def to_json(self, **kwargs):
        """A JSON string `{'class_name': 'TimeseriesGenerator', 'config': ...}`."""
        return json.dumps({'class_name': self.__class__.__name__, 'config': self.get_config()}, **kwargs)


def timeseries_generator_from_json(json_string):
    """Rebuilds a TimeseriesGenerator from `TimeseriesGenerator.to_json()`."""
    config = json.loads(json_string)['config']
    config['data'] = np.asarray(config['data'])
    config['targets'] = np.asarray(config['targets'])
    return TimeseriesGenerator(**config)
