"""Interrupted saves leave nothing behind (issue 12, item 6): the next save to a path removes the
temporary files of earlier, killed saves to it (never a live writer's, never other files), and the
good file is never touched until the new one is complete."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from keraslite import layers
from keraslite.engine.sequential import Sequential
from keraslite.models import load_model
from keraslite.saving_files import remove_stale_temporaries, stale_temporaries

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model():
    model = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), verbose=0)
    return model


def test_leftover_temporaries_removed_by_next_save(tmp_path):
    model = _model()
    path = str(tmp_path / "model.h5")
    model.save(path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftovers = [tmp_path / ".model.h5.a1b2c3d4.tmp", tmp_path / f".model.h5.{dead.pid}-zz9_k0p1.tmp"]
    keep = [tmp_path / ".other.h5.a1b2c3d4.tmp", tmp_path / ".model.h5.backup.tmp", tmp_path / "model.h5.tmp",
            tmp_path / ".model.h5.a1b2c3d4.tmp.keep"]
    for p in leftovers + keep:
        p.write_bytes(b"\0" * 1000)
    assert sorted(stale_temporaries(path)) == sorted(str(p) for p in leftovers)
    model.save(path)
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in keep)
    load_model(path)
    for p in leftovers:
        p.write_bytes(b"x")
    model.save_weights(path)
    assert not any(p.exists() for p in leftovers)


def test_temporary_of_a_live_writer_is_kept(tmp_path):
    path = str(tmp_path / "model.h5")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp = tmp_path / f".model.h5.{live.pid}-abcdefgh.tmp"
        tmp.write_bytes(b"partial")
        assert remove_stale_temporaries(path) == []
        assert tmp.exists()
    finally:
        live.kill()
        live.wait()
    assert remove_stale_temporaries(path) == [str(tmp)]
    assert not tmp.exists()


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from keraslite import layers, saving
    from keraslite.engine.sequential import Sequential
    path, ready = sys.argv[1], sys.argv[2]
    model = Sequential([layers.Dense(64, input_shape=(32,)), layers.Dense(8)])
    original = saving.save_weights_to_hdf5_group

    def slow(group, layers_):
        original(group, layers_)
        group.file.flush()
        open(ready, "w").close()
        time.sleep(60)  # killed here, half way through the save

    saving.save_weights_to_hdf5_group = slow
    model.save(path)
""")


def test_killed_save_leaves_good_file_and_next_save_cleans_up(tmp_path):
    model = _model()
    path = str(tmp_path / "model.h5")
    model.save(path)
    good = open(path, "rb").read()
    ready = tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "backends")]))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, path, str(ready)], env=env)
    try:
        deadline = time.time() + 60
        while not ready.exists():
            assert proc.poll() is None, "the writer exited early"
            assert time.time() < deadline, "the writer never got half way"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith(".model.h5.") and p.endswith(".tmp")]
    assert len(leftovers) == 1, leftovers
    assert open(path, "rb").read() == good  # the good file was never touched
    load_model(path)
    model.save(path)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".model.h5.") and p.endswith(".tmp")]
    load_model(path)
