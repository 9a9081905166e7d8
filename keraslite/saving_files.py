"""Writing a file so that a reader never sees half of it: a temporary file next to the target,
renamed over it only when complete; stale temporary files of killed saves are removed by the next
save to the same path."""
from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import sys
import tempfile
import threading

from .saving_h5 import _h5py

# Temporary files are named '.<target name>.<pid>-<8 random chars>.tmp' so that the next save can
# tell whose they are; '.<target name>.<8 random chars>.tmp' is the name older versions used.
_TMP_MIDDLE = re.compile(r"^(?:(\d+)-)?[a-z0-9_]{8}$")
_active: set[str] = set()  # temporary files this process is writing now
_active_lock = threading.Lock()


def _ask_to_proceed_with_overwrite(path: str) -> bool:
    stdin = sys.stdin
    if stdin is None or not hasattr(stdin, "isatty") or not stdin.isatty():
        raise FileExistsError(errno.EEXIST, f"{path!r} already exists and overwrite=False (no terminal to ask "
                                            "whether to overwrite it); pass overwrite=True", path)
    answer = input("[WARNING] %s already exists - overwrite? [y/n]" % path)
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).')
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, briefly, for every thread)
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _new_file_mode(existing: str) -> int:
    """The mode a plain open() would give: the old file's, else 0o666 less the umask (mkstemp
    makes 0o600 files)."""
    try:
        return stat.S_IMODE(os.stat(existing).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def is_stream(obj, method: str) -> bool:
    """True for a file-like object (not a path) with `method` ('read' or 'write')."""
    return hasattr(obj, method) and not isinstance(obj, (str, bytes, os.PathLike))


def _write_hdf5(filepath, overwrite: bool, write, what: str) -> None:
    """Run write(h5py.File) on a temporary file next to `filepath`, then rename it over
    `filepath`; an h5py File or Group is written in place."""
    h5py = _h5py()
    if isinstance(filepath, h5py.Group):
        write(filepath)
        filepath.file.flush()
        return
    if is_stream(filepath, "write"):
        # Keras 2.3 also saves to a binary file-like object: build the file in memory, then write
        # it in one piece (nothing reaches the stream if building fails)
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as f:
            write(f)
        filepath.write(buffer.getvalue())
        return
    path = os.fspath(filepath)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"Cannot save {what}: {path!r} is a directory", path)
    if not overwrite and os.path.exists(path) and not _ask_to_proceed_with_overwrite(path):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"Cannot save {what} to {path!r}: the directory {directory!r} does "
                                              "not exist", path)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.{os.getpid()}-", suffix=".tmp", dir=directory)
    os.close(fd)
    with _active_lock:
        _active.add(tmp)
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
            f.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _active_lock:
            _active.discard(tmp)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OSError, ValueError, OverflowError):
        return False
    try:  # a killed child that was not reaped yet is a zombie: it writes nothing any more
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stale_temporaries(path) -> list[str]:
    """stale_temporaries(path): the temporary files of earlier saves to `path` whose writer is
    gone (killed or crashed): ours not in progress, other processes' that no longer run, and
    those of the older naming scheme."""
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    prefix = f".{base}."
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    out = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        match = _TMP_MIDDLE.match(name[len(prefix):-len(".tmp")])
        if match is None:
            continue
        full = os.path.join(directory, name)
        with _active_lock:
            if full in _active:
                continue
        pid = match.group(1)
        if pid is not None and int(pid) != os.getpid() and _process_alive(int(pid)):
            continue  # another process may be writing it right now
        try:
            if not stat.S_ISREG(os.lstat(full).st_mode):
                continue
        except OSError:
            continue
        out.append(full)
    return sorted(out)


def remove_stale_temporaries(path) -> list[str]:
    """remove_stale_temporaries(path): delete stale_temporaries(path); returns what was removed."""
    removed = []
    for tmp in stale_temporaries(path):
        try:
            os.unlink(tmp)
        except OSError:  # gone already, or not ours to remove: the save itself must not fail
            continue
        removed.append(tmp)
    return removed

