"""keraslite.utils.get_file against a loopback HTTP server started here: caching, hashes,
re-download, temp-file-then-rename, progress bar, extraction (and refusal of hostile archives),
clear errors naming the URL."""
import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from keraslite import utils
from keraslite.utils import data_utils
from keraslite.utils.data_utils import DownloadError, _extract_archive, _hash_file, get_file, validate_file
from loopback_http import closed_port_url

PAYLOAD = b"keraslite get_file payload\n" * 1000


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def _tar_bytes(entries, mode="w:gz"):
    """entries: (name, bytes) for files, (name, ('sym'|'hard', target)) for links, (name, None) dirs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, tuple):
                info.type = tarfile.SYMTYPE if data[0] == "sym" else tarfile.LNKTYPE
                info.linkname = data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buf.getvalue()


def test_exported_like_keras():
    assert utils.get_file is get_file
    assert utils.data_utils.get_file is get_file
    import inspect
    params = list(inspect.signature(get_file).parameters)
    assert params == ["fname", "origin", "untar", "md5_hash", "file_hash", "cache_subdir", "hash_algorithm",
                      "extract", "archive_format", "cache_dir"]
    defaults = {k: v.default for k, v in inspect.signature(get_file).parameters.items()}
    assert defaults["cache_subdir"] == "datasets" and defaults["hash_algorithm"] == "auto"
    assert defaults["archive_format"] == "auto" and defaults["untar"] is False and defaults["extract"] is False


def test_download_cache_and_progress(loopback_server, cache, capsys):
    url = loopback_server.write("data.bin", PAYLOAD)
    path = get_file("data.bin", url, cache_dir=cache)
    assert path == os.path.join(cache, "datasets", "data.bin")
    with open(path, "rb") as handle:
        assert handle.read() == PAYLOAD
    out = capsys.readouterr().out
    assert "Downloading data from " + url in out
    assert "%d/%d [" % (len(PAYLOAD), len(PAYLOAD)) in out  # the finished progress bar, in bytes
    # no temp file left behind
    assert os.listdir(os.path.dirname(path)) == ["data.bin"]
    # second call: served from the cache, no request
    assert get_file("data.bin", url, cache_dir=cache) == path
    assert loopback_server.hits["/data.bin"] == 1


def test_download_without_content_length(loopback_server, cache, capsys):
    url = loopback_server.serve_unsized("stream.bin", PAYLOAD)
    path = get_file("stream.bin", url, cache_dir=cache, file_hash=hashlib.sha256(PAYLOAD).hexdigest())
    assert open(path, "rb").read() == PAYLOAD
    out = capsys.readouterr().out
    assert "%d/%d [" % (len(PAYLOAD), len(PAYLOAD)) in out  # the bar ends finished at the size seen


def test_cache_dir_defaults_keras_home_then_home(loopback_server, tmp_path, monkeypatch):
    url = loopback_server.write("a.txt", b"abc")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert get_file("a.txt", url) == str(tmp_path / "kh" / "datasets" / "a.txt")
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_file("a.txt", url, cache_subdir="models") == str(tmp_path / "home" / ".keras" / "models" / "a.txt")


def test_absolute_fname_and_subdir(loopback_server, tmp_path, cache):
    url = loopback_server.write("a.txt", b"abc")
    target = str(tmp_path / "elsewhere" / "file.txt")
    assert get_file(target, url, cache_dir=cache) == target
    sub = str(tmp_path / "absolute_sub")
    assert get_file("a.txt", url, cache_subdir=sub, cache_dir=cache) == os.path.join(sub, "a.txt")
    assert open(target, "rb").read() == b"abc"


@pytest.mark.parametrize("algo", ["sha256", "md5"])
def test_hash_verified_and_stale_cache_redownloaded(loopback_server, cache, algo, capsys):
    digest = getattr(hashlib, algo)(PAYLOAD).hexdigest()
    url = loopback_server.write("d.bin", PAYLOAD)
    kwargs = {"file_hash": digest} if algo == "sha256" else {"md5_hash": digest}
    path = get_file("d.bin", url, cache_dir=cache, **kwargs)
    assert loopback_server.hits["/d.bin"] == 1
    # valid cache: no request
    get_file("d.bin", url, cache_dir=cache, file_hash=digest, hash_algorithm=algo)
    assert loopback_server.hits["/d.bin"] == 1
    # corrupt the cached copy: it is detected and downloaded again
    with open(path, "wb") as handle:
        handle.write(b"truncated")
    capsys.readouterr()
    get_file("d.bin", url, cache_dir=cache, file_hash=digest)
    assert "re-download" in capsys.readouterr().out
    assert loopback_server.hits["/d.bin"] == 2
    assert open(path, "rb").read() == PAYLOAD


def test_hash_mismatch_after_download_keeps_nothing(loopback_server, cache):
    url = loopback_server.write("d.bin", PAYLOAD)
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(ValueError, match="d.bin"):
        get_file("d.bin", url, cache_dir=cache, file_hash=wrong)
    assert os.listdir(os.path.join(cache, "datasets")) == []


def test_failed_redownload_keeps_old_file(loopback_server, cache):
    """The download goes to a temp file: a failure leaves the previous cached file untouched."""
    url = loopback_server.write("d.bin", PAYLOAD)
    path = get_file("d.bin", url, cache_dir=cache)
    with open(path, "wb") as handle:
        handle.write(b"old")
    os.remove(os.path.join(loopback_server.folder, "d.bin"))
    with pytest.raises(DownloadError, match="404"):
        get_file("d.bin", url, cache_dir=cache, file_hash=hashlib.sha256(PAYLOAD).hexdigest())
    assert open(path, "rb").read() == b"old"
    assert os.listdir(os.path.dirname(path)) == ["d.bin"]


def test_http_error_names_url(loopback_server, cache):
    url = loopback_server.url("nothing_here.bin")
    with pytest.raises(DownloadError) as info:
        get_file("nothing_here.bin", url, cache_dir=cache)
    assert url in str(info.value) and "404" in str(info.value)
    assert os.listdir(os.path.join(cache, "datasets")) == []


def test_no_network_names_url(cache):
    with closed_port_url("w.h5") as url:
        with pytest.raises(DownloadError) as info:
            get_file("w.h5", url, cache_dir=cache)
    assert url in str(info.value)
    assert isinstance(info.value, OSError)


def test_truncated_transfer_is_an_error(loopback_server, cache):
    url = loopback_server.serve_truncated("short.bin", b"x" * 100)
    with pytest.raises(DownloadError, match="short.bin"):
        get_file("short.bin", url, cache_dir=cache)
    assert not os.path.exists(os.path.join(cache, "datasets", "short.bin"))


@pytest.mark.parametrize("kwargs, match", [
    ({"hash_algorithm": "sha1"}, "hash_algorithm"),
    ({"file_hash": "abc"}, "file_hash"),
    ({"file_hash": "zz" * 16}, "file_hash"),
    ({"file_hash": "a" * 32, "hash_algorithm": "sha256"}, "sha256"),
    ({"archive_format": "rar", "extract": True}, "archive_format"),
])
def test_bad_arguments_raise_before_download(loopback_server, cache, kwargs, match):
    url = loopback_server.write("d.bin", PAYLOAD)
    with pytest.raises(ValueError, match=match):
        get_file("d.bin", url, cache_dir=cache, **kwargs)
    assert loopback_server.hits["/d.bin"] == 0


def test_untar_like_keras(loopback_server, cache):
    data = _tar_bytes([("cifar-like", None), ("cifar-like/batch_1", b"one"), ("cifar-like/sub/batch_2", b"two")])
    url = loopback_server.write("cifar-like.tar.gz", data)
    path = get_file("cifar-like", origin=url, untar=True, cache_dir=cache)
    assert path == os.path.join(cache, "datasets", "cifar-like")
    assert open(os.path.join(path, "batch_1"), "rb").read() == b"one"
    assert open(os.path.join(path, "sub", "batch_2"), "rb").read() == b"two"
    assert os.path.exists(path + ".tar.gz")
    # extracted once: removing a file is not repaired by a cached call (as Keras 2)
    get_file("cifar-like", origin=url, untar=True, cache_dir=cache)
    assert loopback_server.hits["/cifar-like.tar.gz"] == 1


@pytest.mark.parametrize("fmt", ["tar", "tar.bz2", "zip"])
def test_extract_formats(loopback_server, cache, fmt):
    files = [("pkg/a.txt", b"A"), ("pkg/b/c.txt", b"C")]
    if fmt == "zip":
        data = _zip_bytes(files)
    else:
        data = _tar_bytes(files, mode="w:bz2" if fmt == "tar.bz2" else "w")
    url = loopback_server.write("arch." + fmt, data)
    path = get_file("arch." + fmt, url, extract=True, cache_dir=cache)
    root = os.path.dirname(path)
    assert open(os.path.join(root, "pkg", "a.txt"), "rb").read() == b"A"
    assert open(os.path.join(root, "pkg", "b", "c.txt"), "rb").read() == b"C"
    assert not any(name.startswith(".extract-") for name in os.listdir(root))


def test_archive_format_restricts(loopback_server, cache):
    url = loopback_server.write("arch.zip", _zip_bytes([("z.txt", b"Z")]))
    path = get_file("arch.zip", url, extract=True, archive_format="tar", cache_dir=cache)
    assert not os.path.exists(os.path.join(os.path.dirname(path), "z.txt"))
    assert _extract_archive(path, os.path.dirname(path), archive_format=None) is False
    assert _extract_archive(path, os.path.dirname(path), archive_format=[]) is False
    assert _extract_archive(path, os.path.dirname(path), archive_format=["tar", "zip"]) is True
    assert os.path.exists(os.path.join(os.path.dirname(path), "z.txt"))


HOSTILE_TARS = {
    "dotdot": [("ok.txt", b"fine"), ("../escaped.txt", b"evil")],
    "absolute": [("ok.txt", b"fine"), ("/tmp/keraslite_abs_escape.txt", b"evil")],
    "symlink_out": [("ok.txt", b"fine"), ("link", ("sym", "../../")), ("link/escaped.txt", b"evil")],
    "symlink_abs": [("ok.txt", b"fine"), ("link", ("sym", "/etc"))],
    "hardlink_out": [("ok.txt", b"fine"), ("hl", ("hard", "../../escaped.txt"))],
    # lexically inside, really outside: 'd' -> '.' then 'd/../x' resolves next to the target folder
    "symlink_dot_trick": [("d", ("sym", ".")), ("e", ("sym", "d/..")), ("e/escaped.txt", b"evil")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_refused_and_nothing_written(tmp_path, case):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes(HOSTILE_TARS[case], mode="w"))
    target = tmp_path / "a" / "b" / "target"
    target.mkdir(parents=True)
    (target / "keep.txt").write_bytes(b"keep")
    with pytest.raises(ValueError, match="evil.tar"):
        _extract_archive(str(archive), str(target), "tar")
    # the target is exactly as before, nothing escaped
    assert sorted(os.listdir(target)) == ["keep.txt"]
    assert not (tmp_path / "a" / "b" / "escaped.txt").exists()
    assert not (tmp_path / "a" / "escaped.txt").exists()
    assert not os.path.exists("/tmp/keraslite_abs_escape.txt")


def test_hostile_zip_refused(tmp_path, loopback_server, cache):
    url = loopback_server.write("evil.zip", _zip_bytes([("ok.txt", b"fine"), ("../../escaped.txt", b"evil")]))
    with pytest.raises(ValueError, match="outside"):
        get_file("evil.zip", url, extract=True, cache_dir=cache)
    assert sorted(os.listdir(os.path.join(cache, "datasets"))) == ["evil.zip"]
    assert not os.path.exists(os.path.join(cache, "escaped.txt"))


def test_zip_symlink_escape_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "../../outside")
    path = tmp_path / "l.zip"
    path.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="symlink"):
        _extract_archive(str(path), str(tmp_path / "t"), "zip")


def test_symlink_inside_is_allowed(tmp_path):
    archive = tmp_path / "ok.tar"
    archive.write_bytes(_tar_bytes([("dir/a.txt", b"A"), ("dir/link", ("sym", "a.txt"))], mode="w"))
    assert _extract_archive(str(archive), str(tmp_path / "t"), "tar") is True
    assert (tmp_path / "t" / "dir" / "link").read_bytes() == b"A"


def test_hash_helpers(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    sha, md5 = hashlib.sha256(PAYLOAD).hexdigest(), hashlib.md5(PAYLOAD).hexdigest()
    assert _hash_file(str(path)) == sha
    assert _hash_file(str(path), "md5") == md5
    assert validate_file(str(path), sha) and validate_file(str(path), md5)
    assert validate_file(str(path), sha.upper(), algorithm="sha256")
    assert not validate_file(str(path), md5, algorithm="sha256")
    assert not validate_file(str(path), "0" * 64)
    with pytest.raises(ValueError, match="algorithm"):
        validate_file(str(path), sha, algorithm="crc")


def test_unwritable_cache_falls_back_to_tmp(loopback_server, tmp_path, monkeypatch):
    url = loopback_server.write("a.txt", b"abc")
    monkeypatch.setattr(data_utils, "_writable_dir", lambda p: False)
    monkeypatch.setattr(data_utils.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    path = get_file("a.txt", url, cache_dir=str(tmp_path / "ro"))
    assert path == str(tmp_path / "tmp" / ".keras" / "datasets" / "a.txt")
