"""keraslite.preprocessing: sequence and text utilities (Keras 2 / keras_preprocessing 1.1
semantics), checked against NumPy-computed expectations; the image utilities:
tests/test_preprocessing_image.py.
"""
import json
from hashlib import md5

import numpy as np
import pytest

import keraslite
from keraslite.preprocessing import image, sequence, text
from keraslite.preprocessing.sequence import TimeseriesGenerator, make_sampling_table, pad_sequences, skipgrams
from keraslite.preprocessing.text import Tokenizer, hashing_trick, one_hot, text_to_word_sequence, \
    tokenizer_from_json
from keraslite.utils import Sequence


def test_lazy_submodule():
    assert keraslite.preprocessing.sequence is sequence
    assert keraslite.preprocessing.text is text
    assert keraslite.preprocessing.image is image


# ============================================================================ sequence
def test_pad_sequences_padding_truncating():
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding='post'), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating='post'), [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(seqs, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    out = pad_sequences([[], [1.5]], dtype='float32', padding='post', value=.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[.5], [1.5]])
    assert pad_sequences(seqs).dtype == np.int32


def test_pad_sequences_errors_and_sample_shape():
    with pytest.raises(ValueError):
        pad_sequences([[1]], padding='middle')
    with pytest.raises(ValueError):
        pad_sequences([[1]], truncating='middle')
    with pytest.raises(ValueError):
        pad_sequences([1, 2])
    # sequences of vectors keep their trailing shape
    seqs = [np.ones((1, 2)), np.full((3, 2), 2.)]
    out = pad_sequences(seqs, dtype='float32')
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out[0], [[0, 0], [0, 0], [1, 1]])
    with pytest.raises(ValueError):
        pad_sequences([np.ones((1, 2)), np.ones((1, 3))], dtype='float32')


def test_pad_sequences_strings():
    out = pad_sequences([['a', 'b'], ['c']], dtype=object, value='<pad>')
    assert out.tolist() == [['a', 'b'], ['<pad>', 'c']]
    out = pad_sequences([['ab'], ['c', 'de']], dtype='<U5', value='', padding='post')
    assert out.tolist() == [['ab', ''], ['c', 'de']]
    with pytest.raises(ValueError):
        pad_sequences([['a']], value='x')  # int32 dtype with a string value


def test_make_sampling_table():
    size = 20
    table = make_sampling_table(size, sampling_factor=1e-3)
    rank = np.arange(size, dtype='float64')
    rank[0] = 1
    f = 1e-3 * (rank * (np.log(rank) + 0.577) + 0.5 - 1. / (12. * rank))
    np.testing.assert_allclose(table, np.minimum(1., np.sqrt(f)))  # keep sqrt(sampling_factor / word frequency)
    assert table.shape == (size,) and np.all(table <= 1) and np.all(np.diff(table[1:]) >= 0)
    assert make_sampling_table(5, 1.)[2] == 1.


def test_skipgrams():
    seq = [1, 2, 0, 3, 4]
    couples, labels = skipgrams(seq, vocabulary_size=10, window_size=1, negative_samples=0., shuffle=False)
    assert couples == [[1, 2], [2, 1], [3, 4], [4, 3]]  # index 0 is skipped as word and as context
    assert labels == [1, 1, 1, 1]
    couples, labels = skipgrams(seq, 10, window_size=2, negative_samples=2., seed=3)
    pos = [c for c, l in zip(couples, labels) if l == 1]
    neg = [c for c, l in zip(couples, labels) if l == 0]
    assert len(neg) == 2 * len(pos)
    assert all(1 <= c[1] < 10 for c in neg)
    again = skipgrams(seq, 10, window_size=2, negative_samples=0., seed=3)
    assert again == skipgrams(seq, 10, window_size=2, negative_samples=0., seed=3)
    couples, labels = skipgrams(seq, 10, window_size=1, negative_samples=1., categorical=True, shuffle=False)
    assert labels == [[0, 1]] * 4 + [[1, 0]] * 4
    couples, _ = skipgrams(seq, 10, sampling_table=np.zeros(10), negative_samples=0.)
    assert couples == []


def test_timeseries_generator():
    data = np.arange(50).reshape(50, 1)
    targets = np.arange(50) * 10
    gen = TimeseriesGenerator(data, targets, length=10, sampling_rate=2, batch_size=2)
    assert isinstance(gen, Sequence)
    assert len(gen) == 20  # rows 10..49
    x, y = gen[0]
    np.testing.assert_array_equal(x[..., 0], [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]])
    np.testing.assert_array_equal(y, [100, 110])
    x, y = gen[len(gen) - 1]
    np.testing.assert_array_equal(y, [480, 490])

    gen = TimeseriesGenerator(data, targets, length=3, stride=3, start_index=5, end_index=20, batch_size=4,
                              reverse=True)
    rows = np.arange(8, 21, 3)
    assert len(gen) == int(np.ceil(len(rows) / 4))
    x, y = gen[0]
    np.testing.assert_array_equal(y, targets[rows[:4]])
    np.testing.assert_array_equal(x[0, :, 0], [7, 6, 5])
    x, y = gen[1]
    np.testing.assert_array_equal(y, targets[rows[4:]])

    gen = TimeseriesGenerator(data, targets, length=5, shuffle=True, batch_size=7)
    x, y = gen[0]
    assert x.shape == (7, 5, 1)
    np.testing.assert_array_equal(y // 10, x[:, -1, 0] + 1)

    with pytest.raises(ValueError):
        TimeseriesGenerator(data, targets[:-1], length=2)
    with pytest.raises(ValueError):
        TimeseriesGenerator(data, targets, length=49, start_index=5)
    cfg = json.loads(TimeseriesGenerator(data, targets, length=4).to_json())
    assert cfg['class_name'] == 'TimeseriesGenerator' and cfg['config']['length'] == 4
    assert cfg['config']['start_index'] == 0


# ============================================================================ text
def test_text_to_word_sequence():
    assert text_to_word_sequence('Hello, World!  The  cat\tsat.') == ['hello', 'world', 'the', 'cat', 'sat']
    assert text_to_word_sequence('Aa-Bb', lower=False, filters='') == ['Aa-Bb']
    assert text_to_word_sequence('a;b;;c', split=';', filters='') == ['a', 'b', 'c']
    assert text_to_word_sequence('a.b c', split='.') == ['a', 'b c']


def test_hashing_trick_and_one_hot():
    words = 'The quick brown fox'
    got = hashing_trick(words, 7, hash_function='md5')
    want = [int(md5(w.encode()).hexdigest(), 16) % 6 + 1 for w in ['the', 'quick', 'brown', 'fox']]
    assert got == want
    got = hashing_trick(words, 5, hash_function=len)
    assert got == [3 % 4 + 1, 5 % 4 + 1, 5 % 4 + 1, 3 % 4 + 1]
    oh = one_hot(words + ' the', 10)
    assert len(oh) == 5 and all(1 <= i < 10 for i in oh) and oh[0] == oh[4]
    assert hashing_trick(words, 10) == oh[:4]  # default: Python's hash (salted per process)


TEXTS = ['The cat sat on the mat.', 'The dog ate my homework', 'cat and dog']


def test_tokenizer_vocabulary_order():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    # counts: the=3, cat=2, dog=2, then singletons in order of first appearance
    assert list(tok.word_index)[:3] == ['the', 'cat', 'dog']
    assert tok.word_index == {'the': 1, 'cat': 2, 'dog': 3, 'sat': 4, 'on': 5, 'mat': 6, 'ate': 7, 'my': 8,
                              'homework': 9, 'and': 10}
    assert tok.index_word == {i: w for w, i in tok.word_index.items()}
    assert list(tok.word_counts.items())[:4] == [('the', 3), ('cat', 2), ('sat', 1), ('on', 1)]
    assert tok.word_docs['the'] == 2 and tok.word_docs['dog'] == 2
    assert tok.index_docs[1] == 2 and tok.index_docs[2] == 2
    assert tok.document_count == 3
    assert tok.texts_to_sequences(['the cat ate a fish']) == [[1, 2, 7]]
    assert list(tok.texts_to_sequences_generator(['dog dog'])) == [[3, 3]]
    assert tok.sequences_to_texts([[1, 2, 99, 7]]) == ['the cat ate']


def test_tokenizer_num_words_and_oov():
    tok = Tokenizer(num_words=4, oov_token='<oov>')
    tok.fit_on_texts(TEXTS)
    assert tok.word_index['<oov>'] == 1 and tok.word_index['the'] == 2
    # kept: indices < 4 (oov, the, cat); others -> oov
    assert tok.texts_to_sequences(['the cat sat zebra']) == [[2, 3, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 8, 50]]) == ['the cat <oov> <oov>']
    plain = Tokenizer(num_words=3)
    plain.fit_on_texts(TEXTS)
    assert plain.texts_to_sequences(['the cat dog zebra']) == [[1, 2]]


def test_tokenizer_char_level_and_token_lists():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(['abca', 'Bd'])
    assert tok.word_index == {'a': 1, 'b': 2, 'c': 3, 'd': 4}
    assert tok.texts_to_sequences(['dab']) == [[4, 1, 2]]
    tok = Tokenizer()
    tok.fit_on_texts([['Hello', 'world'], ['hello']])
    assert tok.word_index == {'hello': 1, 'world': 2}
    assert tok.texts_to_sequences([['world', 'HELLO']]) == [[2, 1]]


def test_tokenizer_matrices():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    docs = ['the the cat', 'dog']
    seqs = tok.texts_to_sequences(docs)
    n = len(tok.word_index) + 1
    counts = np.zeros((2, n))
    for i, s in enumerate(seqs):
        for j in s:
            counts[i, j] += 1
    np.testing.assert_array_equal(tok.texts_to_matrix(docs, mode='count'), counts)
    np.testing.assert_array_equal(tok.texts_to_matrix(docs, mode='binary'), (counts > 0).astype(float))
    np.testing.assert_allclose(tok.texts_to_matrix(docs, mode='freq'),
                               counts / np.array([len(s) for s in seqs])[:, None])
    df = np.array([tok.index_docs.get(j, 0) for j in range(n)])
    with np.errstate(divide='ignore'):
        tfidf = np.where(counts > 0, (1 + np.log(counts)) * np.log(1 + 3 / (1 + df)), 0.)
    np.testing.assert_allclose(tok.texts_to_matrix(docs, mode='tfidf'), tfidf)
    with pytest.raises(ValueError):
        tok.texts_to_matrix(docs, mode='nope')
    with pytest.raises(ValueError):
        Tokenizer().sequences_to_matrix([[1]])
    limited = Tokenizer(num_words=3)
    limited.fit_on_texts(TEXTS)
    assert limited.sequences_to_matrix([[1, 2, 5]], mode='count').tolist() == [[0, 1, 1]]


def test_tokenizer_fit_on_sequences_and_json():
    tok = Tokenizer(num_words=5)
    with pytest.raises(ValueError):
        tok.sequences_to_matrix([[1, 2]], mode='tfidf')
    tok.fit_on_sequences([[1, 2, 2], [2, 3]])
    assert tok.document_count == 2 and tok.index_docs[2] == 2 and tok.index_docs[1] == 1
    m = tok.sequences_to_matrix([[2]], mode='tfidf')
    np.testing.assert_allclose(m[0, 2], 1 * np.log(1 + 2 / 3))

    tok = Tokenizer(num_words=6, oov_token='?', lower=False)
    tok.fit_on_texts(TEXTS)
    cfg = tok.get_config()
    assert set(cfg) == {'num_words', 'filters', 'lower', 'split', 'char_level', 'oov_token', 'document_count',
                        'word_counts', 'word_docs', 'index_docs', 'index_word', 'word_index'}
    js = tok.to_json()
    assert json.loads(js)['class_name'] == 'Tokenizer'
    back = tokenizer_from_json(js)
    assert back.word_index == tok.word_index and back.index_word == tok.index_word
    assert back.num_words == 6 and back.oov_token == '?' and back.lower is False
    assert dict(back.index_docs) == dict(tok.index_docs) and back.document_count == 3
    assert back.texts_to_sequences(TEXTS) == tok.texts_to_sequences(TEXTS)
    back.fit_on_texts(['more text'])  # still fittable
    with pytest.raises(TypeError):
        Tokenizer(bogus=1)


def test_pad_sequences_embedding_lstm_fit():
    from keraslite import layers, models
    with keraslite.use_backend('numpy'):
        tok = Tokenizer(num_words=20)
        tok.fit_on_texts(TEXTS * 2)
        seqs = tok.texts_to_sequences(TEXTS * 2)
        x = pad_sequences(seqs, maxlen=5)
        y = np.array([0, 1, 0, 1, 0, 1], dtype='float32')
        model = models.Sequential([layers.Embedding(20, 4, input_length=5), layers.LSTM(3),
                                   layers.Dense(1, activation='sigmoid')])
        model.compile('adam', 'binary_crossentropy')
        hist = model.fit(x, y, batch_size=3, epochs=1, verbose=0)
        assert np.isfinite(hist.history['loss'][0])
