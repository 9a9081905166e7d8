"""Where the gradient allreduce sits, measured: (a) keraslite's choice, one `distributed_allreduce`
node inside the compiled training step, against (b) a split step: a compiled function returning
the loss and the gradients, the allreduce in Python, then a second compiled function applying the
update rule to the averaged gradients fed back as inputs. Same model, same data, same ranks.

Run: mpiexec -n 2 python -m mpi4py bench/distributed_split.py [--model mlp|convnet] [--steps 30]
(NUMBA_NUM_THREADS=1 for 2 ranks on 2 cores). Rank 0 prints ms/step for both.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from distributed import MODELS, _build, _data  # noqa: E402


def split_step(model):
    """The split form of model's training step: (grad_fn, apply_fn, engine)."""
    from keraslite import backend as K
    from keraslite.distributed.collectives import engine_for
    params = model._collected_trainable_weights
    loss = model.total_loss
    grads = model.optimizer._raw_gradients(loss, params)
    grad_fn = K.function(model.inputs + model.targets + model.sample_weights, [loss] + grads,
                         givens=model._phase_givens(True))
    fed = [K.placeholder(shape=K.int_shape(p), dtype=K.dtype(p)) for p in params]
    opt = type(model.optimizer).__mro__[2].from_config(model.optimizer.get_config())  # the plain rule
    opt.get_gradients = lambda loss_, params_: fed
    apply_fn = K.function(fed, [], updates=opt.get_updates(loss=loss, params=params))
    return grad_fn, apply_fn, engine_for


def main() -> None:
    import keraslite
    import keraslite.distributed as hvd
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--backend", default="numba")
    args = p.parse_args()
    hvd.init()
    keraslite.set_backend(args.backend)
    batch = MODELS[args.model]["batch"]
    x, y = _data(args.model, batch)
    model = _build(args.model)
    sw = np.ones(batch, dtype="float32")
    train = model._make_train_function()
    grad_fn, apply_fn, engine_for = split_step(model)

    def in_graph():
        train([x, y, sw])

    def split():
        outs = grad_fn([x, y, sw])
        grads = outs[1:]
        engine = engine_for(grads)
        apply_fn(engine.reduce_mean(grads))

    results = {}
    for name, fn in (("in-graph primitive", in_graph), ("split step", split)):
        for _ in range(3):
            fn()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        results[name] = 1000 * statistics.median(times)
    if hvd.rank() == 0:
        print(f"{args.model}, {hvd.size()} ranks, batch {batch} per rank, {args.backend}: " +
              ", ".join(f"{k} {v:.2f} ms/step" for k, v in results.items()) +
              f" (plan steps: {len(train.last_plan.steps)} in one plan vs "
              f"{len(grad_fn.last_plan.steps)} + {len(apply_fn.last_plan.steps)} in two)")


if __name__ == "__main__":
    main()
