"""The training runs compared by tests/test_distributed_mpi.py: one process with batch 64 against
2 ranks (tests/distributed_worker.py under mpiexec) with batch 32 each. Both sides build the model,
its initial weights and the data from the same seeds, independently of keraslite's initializers."""
import numpy as np

N = 64 * 9 + 41        # 10 global batches per epoch; the last one (41 samples) splits 21 + 20
GLOBAL_BATCH = 64
EPOCHS = 2             # 20 steps
SHUFFLE_SEED = 123
CASES = [(backend, opt, dtype) for backend in ("numba", "numpy") for opt in ("sgd", "adam")
         for dtype in ("float64", "float32")]


def case_name(backend, opt, dtype):
    return f"{backend}_{opt}_{dtype}"


def data(dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, 8)).astype(dtype)
    labels = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int) + (x[:, 3] > 1).astype(int)
    return x, np.eye(3, dtype=dtype)[labels]


def model(opt_name, dtype, distributed=None):
    """A compiled MLP (no batch norm, no dropout) with seeded initial weights."""
    import keraslite
    from keraslite import backend as K
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    K.set_floatx(dtype)
    m = Sequential([Dense(16, activation="tanh", input_shape=(8,)), Dense(3, activation="softmax")])
    rng = np.random.default_rng(11)
    m.set_weights([rng.normal(scale=0.5, size=w.shape).astype(dtype) for w in m.get_weights()])
    opt = keraslite.optimizers.SGD(0.1, momentum=0.9) if opt_name == "sgd" else keraslite.optimizers.Adam(0.01)
    if distributed is not None:
        opt = distributed.DistributedOptimizer(opt)
    m.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def reference(backend, opt_name, dtype):
    """Final weights of the single-process run with the global batch."""
    from keraslite import backend as K
    saved = K.floatx()
    try:
        return _reference(backend, opt_name, dtype)
    finally:
        K.set_floatx(saved)  # model() sets floatx; the test session must not see it change


def _reference(backend, opt_name, dtype):
    import keraslite
    with keraslite.use_backend(backend):
        m = model(opt_name, dtype)
        x, y = data(dtype)
        np.random.seed(SHUFFLE_SEED)
        m.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
        return m.get_weights(), int(m.optimizer.iterations.numpy())


# fit_generator on a Sequence: 2 ranks take items 2k and 2k+1 of a batch-32 Sequence, which
# together are item k of the batch-64 Sequence of one process (576 samples: 9 full batches)
SEQ_N = 64 * 9
SEQ_CASES = [("numpy", "sgd", "float64"), ("numba", "adam", "float32")]


def batches(dtype, batch):
    from keraslite.utils import Sequence
    x, y = data(dtype)
    x, y = x[:SEQ_N], y[:SEQ_N]

    class Batches(Sequence):
        def __len__(self):
            return (len(x) + batch - 1) // batch

        def __getitem__(self, i):
            return x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
    return Batches()


def reference_sequence(backend, opt_name, dtype):
    import keraslite
    from keraslite import backend as K
    saved = K.floatx()
    try:
        with keraslite.use_backend(backend):
            return _sequence_run(opt_name, dtype)
    finally:
        K.set_floatx(saved)


def _sequence_run(opt_name, dtype):
    m = model(opt_name, dtype)
    m.fit_generator(batches(dtype, GLOBAL_BATCH), epochs=EPOCHS, verbose=0, shuffle=False)
    return m.get_weights(), int(m.optimizer.iterations.numpy())
