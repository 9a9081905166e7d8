"""Run by tests/test_distributed_mpi.py as `mpiexec -n 2 python -m mpi4py distributed_worker.py
OUTDIR MODE`. MODE 'equiv': every case of distributed_cases.CASES trained by fit with
DistributedOptimizer and batch 32 per rank, and the SEQ_CASES by fit_generator on a Sequence of
batch-32 items; the final weights saved per rank. MODE 'fail': rank 1 raises while rank 0
waits in fit's first collective; the job must end within seconds showing rank 1's error."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distributed_cases as cases  # noqa: E402

import keraslite  # noqa: E402
import keraslite.distributed as hvd  # noqa: E402
from keraslite.callbacks import CSVLogger  # noqa: E402


def collectives(out):
    """The public collectives with known per-rank values; a shape mismatch must raise everywhere."""
    r = hvd.rank()
    a = np.arange(6, dtype="float32").reshape(2, 3) * (r + 1)
    res = {"avg": hvd.allreduce(a), "sum": hvd.allreduce(a, average=False),
           "int_avg": hvd.allreduce(np.array([r, 3], dtype="int64")),
           "bcast": hvd.broadcast(np.full(3, float(r)), root=1),
           "gather": hvd.allgather(np.full((r + 1, 2), r, dtype="int32"))}
    try:
        hvd.broadcast(np.zeros(2 + r))
    except ValueError as e:
        res["mismatch"] = np.array(str(e))
    np.savez(os.path.join(out, f"collectives_rank{r}.npz"), **res)


def equiv(out):
    collectives(out)
    sequences(out)
    r = hvd.rank()
    for backend, opt_name, dtype in cases.CASES:
        name = cases.case_name(backend, opt_name, dtype)
        with keraslite.use_backend(backend):
            m = cases.model(opt_name, dtype, distributed=hvd)
            x, y = cases.data(dtype)
            if r != 0:
                # a different start on rank 1: the broadcast at train begin must replace all of it
                m.set_weights([w + 1 for w in m.get_weights()])
                m._make_train_function()
                m.optimizer.set_weights([np.asarray(7)] + [np.full(w.shape, 0.5, dtype=w.dtype)
                                                          for w in m.optimizer.get_weights()[1:]])
            # only rank 0's seed matters: it shuffles and broadcasts the order
            np.random.seed(cases.SHUFFLE_SEED if r == 0 else 999)
            hist = m.fit(x, y, batch_size=cases.GLOBAL_BATCH // hvd.size(), epochs=cases.EPOCHS, shuffle=True,
                         verbose=0, callbacks=[hvd.BroadcastGlobalVariablesCallback(0), hvd.MetricAverageCallback(),
                                               CSVLogger(os.path.join(out, f"{name}_log_rank{r}.csv"))])
            np.savez(os.path.join(out, f"{name}_rank{r}.npz"), *m.get_weights(),
                     iterations=m.optimizer.iterations.numpy(), loss=np.array(hist.history["loss"]))


def sequences(out):
    r = hvd.rank()
    for backend, opt_name, dtype in cases.SEQ_CASES:
        name = "seq_" + cases.case_name(backend, opt_name, dtype)
        with keraslite.use_backend(backend):
            m = cases.model(opt_name, dtype, distributed=hvd)
            m.fit_generator(cases.batches(dtype, cases.GLOBAL_BATCH // hvd.size()), epochs=cases.EPOCHS, verbose=0,
                            shuffle=False, callbacks=[hvd.BroadcastGlobalVariablesCallback(0)])
            np.savez(os.path.join(out, f"{name}_rank{r}.npz"), *m.get_weights(),
                     iterations=m.optimizer.iterations.numpy())


def fail(out):
    keraslite.set_backend("numpy")
    m = cases.model("sgd", "float64", distributed=hvd)
    x, y = cases.data("float64")
    if hvd.rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)


if __name__ == "__main__":
    hvd.init()
    {"equiv": equiv, "fail": fail}[sys.argv[2]](sys.argv[1])
