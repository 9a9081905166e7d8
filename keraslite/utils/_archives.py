"""Safe extraction of tar and zip archives for `get_file`.

An archive downloaded from the network is untrusted: a member named `../../.bashrc`, an absolute
path, or a symlink pointing outside the target folder (followed by a member written "through" it)
could write anywhere the user can. Every member is checked before anything is written, the archive
is unpacked into a fresh staging folder next to the target (checked again member by member against
the real, symlink-resolved paths), and only a fully extracted archive is moved into place, so a
refused archive leaves the target folder exactly as it was.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from typing import Iterable


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder (or is a device/fifo)."""


def _inside(root: str, path: str) -> bool:
    root = os.path.normpath(root)
    path = os.path.normpath(path)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_name(archive: str, root: str, name: str) -> str:
    """The destination of member `name` under `root`; UnsafeArchiveError if it escapes."""
    if not name or name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"Refusing to extract {archive!r}: member {name!r} has an absolute path")
    dest = os.path.normpath(os.path.join(root, name))
    if not _inside(root, dest):
        raise UnsafeArchiveError(f"Refusing to extract {archive!r}: member {name!r} would be written outside "
                                 f"the target folder")
    return dest


def _check_link(archive: str, root: str, name: str, link: str, hard: bool) -> None:
    kind = "hard link" if hard else "symlink"
    if not link or os.path.isabs(link) or link.startswith(("/", "\\")):
        raise UnsafeArchiveError(f"Refusing to extract {archive!r}: {kind} {name!r} points to the absolute "
                                 f"path {link!r}")
    # a hard link names another member (relative to the archive root); a symlink is relative to
    # the folder holding it
    base = root if hard else os.path.dirname(os.path.join(root, name))
    if not _inside(root, os.path.normpath(os.path.join(base, link))):
        raise UnsafeArchiveError(f"Refusing to extract {archive!r}: {kind} {name!r} -> {link!r} points outside "
                                 f"the target folder")


def _check_tar_members(archive: str, root: str, members: Iterable[tarfile.TarInfo]) -> None:
    for member in members:
        _check_name(archive, root, member.name)
        if member.issym() or member.islnk():
            _check_link(archive, root, member.name, member.linkname, hard=member.islnk())
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"Refusing to extract {archive!r}: member {member.name!r} is a device or fifo")


def _zip_link_target(archive_zip: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return archive_zip.read(info).decode("utf-8", "replace")
    return None


def _check_zip_members(archive: str, root: str, archive_zip: zipfile.ZipFile) -> None:
    for info in archive_zip.infolist():
        _check_name(archive, root, info.filename)
        link = _zip_link_target(archive_zip, info)
        if link is not None:
            # zipfile writes such an entry as a plain file holding the target, but an escaping
            # target is refused all the same: the archive is hostile
            _check_link(archive, root, info.filename, link, hard=False)


def _extract_tar_into(archive: str, staging: str) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        _check_tar_members(archive, staging, members)
        real_root = os.path.realpath(staging)
        for member in members:
            # symlinks extracted earlier are on disk now: check the real (resolved) destination
            dest = os.path.join(staging, member.name)
            if not _inside(real_root, os.path.realpath(os.path.dirname(dest))):
                raise UnsafeArchiveError(f"Refusing to extract {archive!r}: member {member.name!r} would be "
                                         f"written through a link outside the target folder")
            if member.issym():
                target = os.path.realpath(os.path.join(os.path.dirname(dest), member.linkname))
                if not _inside(real_root, target):
                    raise UnsafeArchiveError(f"Refusing to extract {archive!r}: symlink {member.name!r} "
                                             f"resolves outside the target folder")
            try:
                if hasattr(tarfile, "data_filter"):
                    tar.extract(member, staging, filter="data")
                else:  # pragma: no cover - Python without PEP 706; the checks above still apply
                    tar.extract(member, staging)
            except tarfile.FilterError as err:
                raise UnsafeArchiveError(f"Refusing to extract {archive!r}: {err}") from err


def _extract_zip_into(archive: str, staging: str) -> None:
    with zipfile.ZipFile(archive) as archive_zip:
        _check_zip_members(archive, staging, archive_zip)
        archive_zip.extractall(staging)


def _move_tree(src: str, dst: str) -> None:
    """Move `src` onto `dst`, merging folders (as extracting over an existing tree would)."""
    if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst) and not os.path.islink(dst):
        for name in os.listdir(src):
            _move_tree(os.path.join(src, name), os.path.join(dst, name))
        return
    if os.path.islink(dst) or os.path.isfile(dst):
        os.unlink(dst)
    elif os.path.isdir(dst):
        shutil.rmtree(dst)
    os.replace(src, dst)


def _formats(archive_format) -> list[str]:
    if archive_format is None:
        return []
    if archive_format == "auto":
        return ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    formats = list(archive_format)
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise ValueError(f"archive_format must be 'auto', 'tar', 'zip', None or a list of 'tar'/'zip'; "
                             f"got {fmt!r}")
    return formats


def extract_archive(file_path: str, path: str = ".", archive_format="auto") -> bool:
    """Extract `file_path` into the folder `path` if it is a tar (plain, gz, bz2, xz) or zip archive
    of an allowed `archive_format`; True if it was, False if no format matched.

    Raises UnsafeArchiveError (a ValueError) before writing anything into `path` if a member would
    land outside it.
    """
    for fmt in _formats(archive_format):
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            extract = _extract_tar_into
        elif fmt == "zip" and zipfile.is_zipfile(file_path):
            extract = _extract_zip_into
        else:
            continue
        os.makedirs(path, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".extract-", dir=path)
        try:
            extract(file_path, staging)
            for name in os.listdir(staging):
                _move_tree(os.path.join(staging, name), os.path.join(path, name))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return True
    return False
