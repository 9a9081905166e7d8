"""Two real ranks under mpiexec (MPICH from the `mpich` wheel in CI): 2 ranks x batch 32 train to
the weights of 1 rank x batch 64 through fit, on numba and numpy, SGD and Adam, float64 and
float32; the two replicas are bitwise identical; a rank that raises ends the job at once."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import distributed_cases as cases

HERE = Path(__file__).resolve().parent


def _mpiexec():
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    return found


MPIEXEC = _mpiexec()
try:
    import mpi4py  # noqa: F401
    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False

pytestmark = [
    pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found (pip install mpich, or the site MPI)"),
    pytest.mark.skipif(not HAVE_MPI4PY, reason="mpi4py is not installed (pip install 'keraslite[distributed]')"),
]


def _env():
    import keraslite
    import keraslite_numba
    env = dict(os.environ)
    # the ranks import the very files this process imported (installed or from the source tree),
    # so they find the Numba kernels this process compiled in the same on-disk cache
    extra = []
    for module in (keraslite, keraslite_numba):
        folder = str(Path(module.__file__).resolve().parent.parent)
        if folder not in extra:
            extra.append(folder)
    env["PYTHONPATH"] = os.pathsep.join(extra + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["NUMBA_NUM_THREADS"] = "1"  # 2 ranks on 2 cores; the kernels come from the on-disk cache
    return env


def _launch(out, mode, via_mpi4py=True, timeout=120):
    cmd = [MPIEXEC, "-n", "2", sys.executable] + (["-m", "mpi4py"] if via_mpi4py else []) + \
          [str(HERE / "distributed_worker.py"), str(out), mode]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    # the single-process references first: they compile (and cache on disk) the Numba kernels the
    # ranks then load instead of compiling them twice over
    refs = {cases.case_name(*c): cases.reference(*c) for c in cases.CASES}
    refs.update({"seq_" + cases.case_name(*c): cases.reference_sequence(*c) for c in cases.SEQ_CASES})
    out = tmp_path_factory.mktemp("ranks")
    proc, _ = _launch(out, "equiv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return refs, out


@pytest.mark.parametrize("case", cases.CASES, ids=[cases.case_name(*c) for c in cases.CASES])
def test_two_ranks_match_one_rank_with_the_global_batch(two_rank_run, case):
    refs, out = two_rank_run
    name = cases.case_name(*case)
    ref, iterations = refs[name]
    ranks = [np.load(out / f"{name}_rank{r}.npz") for r in (0, 1)]
    tol = 1e-12 if case[2] == "float64" else 1e-6
    for r, saved in enumerate(ranks):
        assert int(saved["iterations"]) == iterations == 2 * 10
        for i, w in enumerate(ref):
            got = saved[f"arr_{i}"]
            assert got.dtype == w.dtype
            np.testing.assert_allclose(got, w, rtol=0, atol=tol, err_msg=f"{name}: rank {r}, weight {i}")
    for i in range(len(ref)):  # replicas: bitwise the same
        assert ranks[0][f"arr_{i}"].tobytes() == ranks[1][f"arr_{i}"].tobytes()
    # MetricAverageCallback: both ranks log the same epoch means
    np.testing.assert_array_equal(ranks[0]["loss"], ranks[1]["loss"])
    # CSVLogger writes on rank 0 only
    assert (out / f"{name}_log_rank0.csv").exists() and not (out / f"{name}_log_rank1.csv").exists()


def test_public_collectives_on_two_ranks(two_rank_run):
    _, out = two_rank_run
    base = np.arange(6, dtype="float32").reshape(2, 3)
    for r in (0, 1):
        got = np.load(out / f"collectives_rank{r}.npz")
        assert got["avg"].dtype == np.float32
        np.testing.assert_array_equal(got["avg"], base * 1.5)       # (1x + 2x) / 2
        np.testing.assert_array_equal(got["sum"], base * 3)
        np.testing.assert_array_equal(got["int_avg"], [0.5, 3.0])
        np.testing.assert_array_equal(got["bcast"], [1.0, 1.0, 1.0])  # root 1's values
        np.testing.assert_array_equal(got["gather"], [[0, 0], [1, 1], [1, 1]])
        assert "different shapes" in str(got["mismatch"])            # raised on both ranks


@pytest.mark.parametrize("case", cases.SEQ_CASES, ids=[cases.case_name(*c) for c in cases.SEQ_CASES])
def test_two_ranks_shard_a_sequence_by_index(two_rank_run, case):
    refs, out = two_rank_run
    name = "seq_" + cases.case_name(*case)
    ref, iterations = refs[name]
    ranks = [np.load(out / f"{name}_rank{r}.npz") for r in (0, 1)]
    tol = 1e-12 if case[2] == "float64" else 1e-6
    for saved in ranks:
        assert int(saved["iterations"]) == iterations == 2 * 9
        for i, w in enumerate(ref):
            np.testing.assert_allclose(saved[f"arr_{i}"], w, rtol=0, atol=tol, err_msg=f"{name}, weight {i}")
    for i in range(len(ref)):
        assert ranks[0][f"arr_{i}"].tobytes() == ranks[1][f"arr_{i}"].tobytes()


@pytest.mark.parametrize("via_mpi4py", [True, False], ids=["python-m-mpi4py", "plain-python"])
def test_a_failing_rank_ends_the_job_quickly_with_its_error(tmp_path, via_mpi4py):
    proc, seconds = _launch(tmp_path, "fail", via_mpi4py=via_mpi4py, timeout=60)
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr + proc.stdout
    assert seconds < 20, f"the job took {seconds:.1f} s to end"
