"""What a steady-state training step newly allocates, by tracemalloc (shared by the memory-plan
and batched-update tests)."""
from __future__ import annotations

import tracemalloc

# the bound on memory a steady-state training step newly needs (tracemalloc's peak over what was
# allocated before the step): Python objects, the NumPy temporaries of small fused programs (at
# most 1024 elements each) and NumPy's ufunc buffer for broadcast operands (8192 elements, 32 KiB
# in float32); no activation. Measured: 22-40 KiB planned, 135-290 KiB unplanned.
STEP_BOUND = 64 * 1024


def step_bytes(model, x, y, steps: int = 5, warmup: int = 3) -> int:
    """The largest tracemalloc peak of `steps` train_on_batch calls after `warmup` calls."""
    for _ in range(warmup):
        model.train_on_batch(x, y)
    tracemalloc.start()
    try:
        worst = 0
        for _ in range(steps):
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            model.train_on_batch(x, y)
            worst = max(worst, tracemalloc.get_traced_memory()[1] - start)
    finally:
        tracemalloc.stop()
    return worst
