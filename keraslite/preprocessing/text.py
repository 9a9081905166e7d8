"""keraslite.preprocessing.text (`keras.preprocessing.text`): word splitting, hashing and the
Tokenizer."""
from __future__ import annotations

import json
import warnings
from collections import OrderedDict, defaultdict
from hashlib import md5

import numpy as np

__all__ = ["text_to_word_sequence", "one_hot", "hashing_trick", "Tokenizer", "tokenizer_from_json"]

_DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text, filters=_DEFAULT_FILTERS, lower=True, split=' '):
    """text_to_word_sequence(text, filters='!"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n', lower=True, split=' ')

    Lower-cases (if `lower`), turns every character of `filters` into `split`, splits on
    `split` and drops empty tokens.
    """
    if lower:
        text = text.lower()
    if filters:
        text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


def one_hot(text, n, filters=_DEFAULT_FILTERS, lower=True, split=' '):
    """one_hot(text, n, filters=..., lower=True, split=' '): `hashing_trick` with Python's
    `hash` -- word indices in `[1, n)`; not unique, and (hash randomisation) not stable across
    interpreter runs unless PYTHONHASHSEED is set."""
    return hashing_trick(text, n, hash_function=hash, filters=filters, lower=lower, split=split)


def _md5_hash(word):
    return int(md5(word.encode()).hexdigest(), 16)


def hashing_trick(text, n, hash_function=None, filters=_DEFAULT_FILTERS, lower=True, split=' '):
    """hashing_trick(text, n, hash_function=None, filters=..., lower=True, split=' ')

    Each word of `text` becomes `hash_function(word) % (n - 1) + 1` (0 is reserved). The default
    `hash_function` is Python's `hash`, as in Keras: str hashes are salted per process
    (PYTHONHASHSEED), so the indices differ between runs. Pass `'md5'` (or any callable) for
    stable indices.
    """
    if hash_function is None:
        hash_function = hash
    elif hash_function == 'md5':
        hash_function = _md5_hash
    seq = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [(hash_function(w) % (n - 1) + 1) for w in seq]


class Tokenizer(object):
    """Tokenizer(num_words=None, filters='!"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n', lower=True, split=' ',
    char_level=False, oov_token=None, document_count=0)

    Builds a vocabulary with `fit_on_texts`; `word_index` ranks words by decreasing count (ties in
    order of first appearance) from 1 (0 is reserved for padding); with `oov_token` that token
    takes index 1. Only the `num_words - 1` most frequent words are used when converting texts.
    Texts given as lists of strings (or with `char_level`) are used as the token list directly.
    """

    def __init__(self, num_words=None, filters=_DEFAULT_FILTERS, lower=True, split=' ', char_level=False,
                 oov_token=None, document_count=0, **kwargs):
        if 'nb_words' in kwargs:
            warnings.warn('The `nb_words` argument in `Tokenizer` has been renamed `num_words`.')
            num_words = kwargs.pop('nb_words')
        if kwargs:
            raise TypeError('Unrecognized keyword arguments: ' + str(kwargs))
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs = defaultdict(int)
        self.word_index = {}
        self.index_word = {}

    # ------------------------------------------------------------------ fitting
    def _tokens(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """fit_on_texts(texts): update the vocabulary from a list of strings (or of token lists)."""
        for text in texts:
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        wcounts = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)  # stable: ties keep order
        sorted_voc = [] if self.oov_token is None else [self.oov_token]
        sorted_voc.extend(w for w, _ in wcounts)
        self.word_index = dict(zip(sorted_voc, range(1, len(sorted_voc) + 1)))
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in list(self.word_docs.items()):
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences):
        """fit_on_sequences(sequences): update document counts from lists of word indices (needed
        before `sequences_to_matrix(mode='tfidf')` when not fitted on texts)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    # ------------------------------------------------------------------ conversions
    def texts_to_sequences(self, texts):
        """texts_to_sequences(texts): each text as a list of word indices."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts):
        """texts_to_sequences_generator(texts): yields one list of word indices per text. Unknown
        words and words ranked `>= num_words` become the oov index, or are dropped without one."""
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token)
        for text in texts:
            vect = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None:
                    if num_words and i >= num_words:
                        if oov_index is not None:
                            vect.append(oov_index)
                    else:
                        vect.append(i)
                elif self.oov_token is not None:
                    vect.append(oov_index)
            yield vect

    def sequences_to_texts(self, sequences):
        """sequences_to_texts(sequences): each list of indices as a space-joined string."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences):
        """sequences_to_texts_generator(sequences): yields one string per sequence."""
        num_words = self.num_words
        oov_index = self.word_index.get(self.oov_token)
        for seq in sequences:
            vect = []
            for num in seq:
                word = self.index_word.get(num)
                if word is not None:
                    if num_words and num >= num_words:
                        if oov_index is not None:
                            vect.append(self.index_word[oov_index])
                    else:
                        vect.append(word)
                elif self.oov_token is not None:
                    vect.append(self.index_word[oov_index])
            yield ' '.join(vect)

    def texts_to_matrix(self, texts, mode='binary'):
        """texts_to_matrix(texts, mode='binary'): `sequences_to_matrix(texts_to_sequences(texts), mode)`."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode='binary'):
        """sequences_to_matrix(sequences, mode='binary') -> array (len(sequences), num_words)

        mode: 'binary' (presence), 'count', 'freq' (count / len(sequence)) or 'tfidf'
        (`(1 + log(count)) * log(1 + document_count / (1 + docs containing the word))`).
        Without `num_words`, the width is `len(word_index) + 1`.
        """
        if not self.num_words:
            if self.word_index:
                num_words = len(self.word_index) + 1
            else:
                raise ValueError('Specify a dimension (`num_words` argument), or fit on some text data first.')
        else:
            num_words = self.num_words
        if mode not in ('binary', 'count', 'tfidf', 'freq'):
            raise ValueError('Unknown vectorization mode:', mode)
        if mode == 'tfidf' and not self.document_count:
            raise ValueError('Fit the Tokenizer on some data before using tfidf mode.')

        x = np.zeros((len(sequences), num_words))
        for i, seq in enumerate(sequences):
            if not len(seq):
                continue
            counts = defaultdict(int)
            for j in seq:
                if j >= num_words:
                    continue
                counts[j] += 1
            for j, c in counts.items():
                if mode == 'count':
                    x[i, j] = c
                elif mode == 'freq':
                    x[i, j] = c / len(seq)
                elif mode == 'binary':
                    x[i, j] = 1
                else:
                    tf = 1 + np.log(c)
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[i, j] = tf * idf
        return x

    # ------------------------------------------------------------------ serialisation
    def get_config(self):
        """The settings plus the fitted vocabulary (the dictionaries as JSON strings)."""
        return {
            'num_words': self.num_words,
            'filters': self.filters,
            'lower': self.lower,
            'split': self.split,
            'char_level': self.char_level,
            'oov_token': self.oov_token,
            'document_count': self.document_count,
            'word_counts': json.dumps(self.word_counts),
            'word_docs': json.dumps(self.word_docs),
            'index_docs': json.dumps(self.index_docs),
            'index_word': json.dumps(self.index_word),
            'word_index': json.dumps(self.word_index),
        }

    def to_json(self, **kwargs):
        """to_json(**kwargs): `{'class_name': 'Tokenizer', 'config': get_config()}` as a JSON
        string (kwargs go to `json.dumps`); read back with `tokenizer_from_json`."""
        return json.dumps({'class_name': self.__class__.__name__, 'config': self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """tokenizer_from_json(json_string): the Tokenizer saved by `Tokenizer.to_json()`."""
    config = dict(json.loads(json_string).get('config'))
    word_counts = json.loads(config.pop('word_counts'), object_pairs_hook=OrderedDict)
    word_docs = json.loads(config.pop('word_docs'))
    index_docs = {int(k): v for k, v in json.loads(config.pop('index_docs')).items()}
    index_word = {int(k): v for k, v in json.loads(config.pop('index_word')).items()}
    word_index = json.loads(config.pop('word_index'))
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = word_counts
    tokenizer.word_docs = defaultdict(int, word_docs)
    tokenizer.index_docs = defaultdict(int, index_docs)
    tokenizer.word_index = word_index
    tokenizer.index_word = index_word
    return tokenizer
