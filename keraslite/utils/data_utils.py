"""Data feeding and download helpers (`keras.utils.data_utils`): the Sequence base class and
`get_file`, Keras 2's cached, hash-checked download of datasets and weight files.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

from ._archives import UnsafeArchiveError, _formats, extract_archive

__all__ = ["Sequence", "get_file", "validate_file", "DownloadError", "UnsafeArchiveError"]

# Seconds a stalled connection may stay silent before the download fails (urllib waits forever).
DOWNLOAD_TIMEOUT = 120.0
_CHUNK = 1 << 16
_HASH_LENGTHS = {"md5": 32, "sha256": 64}


class DownloadError(OSError):
    """A download failed: an HTTP error, no network, or a truncated transfer. The message names the URL."""


class Sequence:
    """Sequence: a dataset of batches for fit_generator and friends.

    Subclasses implement `__getitem__(index)` (the batch at `index`, e.g. `(x, y)`) and `__len__()`
    (the number of batches per epoch); `on_epoch_end()` runs after each epoch (shuffle there).
    Unlike a plain generator, a Sequence is indexable, so every batch is seen once per epoch.
    """

    use_sequence_api = True

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch; does nothing by default."""

    def __iter__(self) -> Iterator[Any]:
        """Each batch in order, once."""
        for index in range(len(self)):
            yield self[index]


# -- hashes ----------------------------------------------------------------------------------------

def _hash_file(fpath: str, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    """_hash_file(fpath, algorithm='sha256', chunk_size=65535): the hex digest of a file.

    `algorithm` is 'sha256', 'md5' or 'auto' (sha256: with no hash to compare, 'auto' has nothing
    to detect from).
    """
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"hash algorithm must be 'auto', 'sha256' or 'md5'; got {algorithm!r}")
    hasher = hashlib.md5() if algorithm == "md5" else hashlib.sha256()
    with open(fpath, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _resolve_algorithm(file_hash: str, algorithm: str) -> str:
    if algorithm == "sha256" or (algorithm == "auto" and len(file_hash) == 64):
        return "sha256"
    return "md5"


def validate_file(fpath: str, file_hash: str, algorithm: str = "auto", chunk_size: int = 65535) -> bool:
    """validate_file(fpath, file_hash, algorithm='auto', chunk_size=65535): whether the file's
    sha256 or md5 digest equals `file_hash`.

    'auto' means sha256 for a 64-digit hash and md5 otherwise, as in Keras 2.
    """
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"hash algorithm must be 'auto', 'sha256' or 'md5'; got {algorithm!r}")
    hasher = _resolve_algorithm(str(file_hash), algorithm)
    return _hash_file(fpath, hasher, chunk_size) == str(file_hash).lower()


def _check_hash_argument(file_hash, algorithm: str) -> str | None:
    """The algorithm `file_hash` is checked with, after checking it can match at all."""
    if file_hash is None:
        return None
    if not isinstance(file_hash, str) or not file_hash or any(c not in "0123456789abcdefABCDEF" for c in file_hash):
        raise ValueError(f"file_hash must be a hexadecimal md5 or sha256 digest; got {file_hash!r}")
    if algorithm == "auto":
        if len(file_hash) not in (32, 64):
            raise ValueError(f"file_hash {file_hash!r} has {len(file_hash)} hex digits: neither an md5 (32) nor a "
                             f"sha256 (64) digest")
        return "sha256" if len(file_hash) == 64 else "md5"
    if len(file_hash) != _HASH_LENGTHS[algorithm]:
        raise ValueError(f"file_hash {file_hash!r} has {len(file_hash)} hex digits; a {algorithm} digest has "
                         f"{_HASH_LENGTHS[algorithm]}")
    return algorithm


# -- cache folder ----------------------------------------------------------------------------------

def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _cache_root(cache_dir) -> str:
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    root = os.path.expanduser(os.fspath(cache_dir))
    if not _writable_dir(root):
        # Keras 2 falls back to a folder under /tmp when the cache folder is read-only
        root = os.path.join(tempfile.gettempdir(), ".keras")
    return root


# -- download --------------------------------------------------------------------------------------

class _DownloadProgress:
    """Keras 2's download bar: bytes received against Content-Length (or Unknown)."""

    def __init__(self, total: int | None):
        from .generic_utils import Progbar
        self.total = total
        self.bar = Progbar(total)
        self._last = 0.0

    def update(self, received: int, done: bool = False) -> None:
        now = time.time()
        # with no Content-Length the bar writes a line per update: keep those few
        if self.total is None and not done and now - self._last < 0.5:
            return
        self._last = now
        if self.total is None and done:
            self.bar.target = received  # so the last line is a finished bar
        self.bar.update(received)


def _fetch(origin: str, target: str) -> None:
    """Stream `origin` into the open path `target`; DownloadError naming the URL on failure."""
    error_msg = "URL fetch failure on {} : {} -- {}"
    try:
        with urllib.request.urlopen(origin, timeout=DOWNLOAD_TIMEOUT) as response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total = int(length) if length and length.strip().isdigit() else None
            progress = _DownloadProgress(total)
            received = 0
            with open(target, "wb") as out:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    progress.update(received)
            if total is not None and received < total:
                raise DownloadError(f"URL fetch failure on {origin} : incomplete download -- received {received} "
                                    f"of {total} bytes")
            progress.update(received, done=True)
    except urllib.error.HTTPError as err:
        raise DownloadError(error_msg.format(origin, err.code, err.msg)) from err
    except urllib.error.URLError as err:
        raise DownloadError(error_msg.format(origin, getattr(err, "errno", None), err.reason)) from err
    except DownloadError:
        raise
    except (OSError, ValueError) as err:
        # a reset connection, a timeout mid-transfer, a malformed URL
        raise DownloadError(error_msg.format(origin, type(err).__name__, err)) from err
    except Exception as err:  # http.client errors (IncompleteRead, BadStatusLine) are not OSErrors
        if err.__class__.__module__ == "http.client":
            raise DownloadError(error_msg.format(origin, type(err).__name__, err)) from err
        raise


def _download(origin: str, fpath: str, file_hash: str | None, algorithm: str | None) -> None:
    """Download into a temporary file beside `fpath`, check its hash, then rename it into place,
    so an interrupted or corrupt download never replaces (or poses as) the cached file."""
    print("Downloading data from", origin)
    folder = os.path.dirname(fpath) or "."
    os.makedirs(folder, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix="." + os.path.basename(fpath) + ".", suffix=".part", dir=folder)
    os.close(handle)
    try:
        _fetch(origin, partial)
        if file_hash is not None:
            actual = _hash_file(partial, algorithm)
            if actual != file_hash.lower():
                raise ValueError(f"The file downloaded from {origin} is corrupt or not the expected file: its "
                                 f"{algorithm} hash is {actual}, expected {file_hash}")
        os.replace(partial, fpath)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def get_file(fname: str, origin: str, untar: bool = False, md5_hash: str | None = None,
             file_hash: str | None = None, cache_subdir: str = "datasets", hash_algorithm: str = "auto",
             extract: bool = False, archive_format="auto", cache_dir: str | None = None) -> str:
    """get_file(fname, origin, untar=False, md5_hash=None, file_hash=None, cache_subdir='datasets',
    hash_algorithm='auto', extract=False, archive_format='auto', cache_dir=None)

    Downloads a file from a URL if it is not already in the cache, and returns its path.

    The file at `origin` is saved as `cache_dir/cache_subdir/fname`; `cache_dir` defaults to
    `$KERAS_HOME`, else `~/.keras` (a temporary folder's `.keras` if that is not writable), so
    `example.txt` lands in `~/.keras/datasets/example.txt`. An absolute `fname` or `cache_subdir`
    is used as is. The download goes to a temporary file that is renamed into place once complete
    and verified, with a progress bar on stdout.

    # Arguments
        fname: name of the file (an absolute path saves it at that location).
        origin: URL of the file.
        untar: deprecated in favour of `extract`: the file is the tar archive `fname + '.tar.gz'`,
            extracted into the cache folder; the returned path is the extracted `fname`.
        md5_hash: deprecated in favour of `file_hash`: the file's md5 digest.
        file_hash: the expected sha256 or md5 digest of the file. A cached file that does not match
            is downloaded again; a freshly downloaded file that does not match raises ValueError
            and is not kept.
        cache_subdir: sub-folder of the cache folder the file is saved in.
        hash_algorithm: 'md5', 'sha256' or 'auto' (detected from the hash length).
        extract: whether to extract the file as an archive (tar, tar.gz, tar.bz2, tar.xz or zip)
            into the same folder.
        archive_format: 'auto' (= ['tar', 'zip']), 'tar', 'zip', a list of those, or None.
        cache_dir: the cache folder (default: `$KERAS_HOME` or `~/.keras`).

    # Returns
        The path of the downloaded file (with `untar`, of the extracted folder).

    # Raises
        ValueError: bad arguments, a hash mismatch after download, or an archive member that
            would be written outside the target folder (nothing is extracted then).
        DownloadError (an OSError): an HTTP error, no network or a truncated download; the
            message names the URL.
    """
    if not isinstance(fname, (str, os.PathLike)) or not os.fspath(fname):
        raise ValueError(f"fname must be a non-empty file name; got {fname!r}")
    if not isinstance(origin, str) or not origin:
        raise ValueError(f"origin must be a URL string; got {origin!r}")
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5'; got {hash_algorithm!r}")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _check_hash_argument(file_hash, hash_algorithm)
    formats = _formats(archive_format)  # validated before any download
    fname = os.fspath(fname)

    datadir = os.path.join(_cache_root(cache_dir), os.fspath(cache_subdir))
    os.makedirs(datadir, exist_ok=True)
    if untar:
        untar_fpath = os.path.join(datadir, fname)
        fpath = untar_fpath + ".tar.gz"
    else:
        fpath = os.path.join(datadir, fname)

    download = True
    if os.path.exists(fpath):
        download = False
        if file_hash is not None and not validate_file(fpath, file_hash, algorithm):
            print(f"A local file was found, but it seems to be incomplete or outdated because the {algorithm} file "
                  f"hash does not match the original value of {file_hash} so we will re-download the data.")
            download = True
    if download:
        _download(origin, fpath, file_hash, algorithm)

    if untar:
        if download or not os.path.exists(untar_fpath):
            extract_archive(fpath, datadir, archive_format="tar")
        return untar_fpath
    if extract:
        extract_archive(fpath, datadir, formats)
    return fpath


def _extract_archive(file_path: str, path: str = ".", archive_format="auto") -> bool:
    """_extract_archive(file_path, path='.', archive_format='auto'): Keras 2's helper; extracts a
    tar or zip archive into `path` (refusing members outside it); True if a format matched."""
    return extract_archive(file_path, path, archive_format)



# the enqueuers import nothing from here, so this import at the end makes no cycle
from .enqueuers import GeneratorEnqueuer, OrderedEnqueuer, SequenceEnqueuer  # noqa: E402
__all__ += ["GeneratorEnqueuer", "OrderedEnqueuer", "SequenceEnqueuer"]
