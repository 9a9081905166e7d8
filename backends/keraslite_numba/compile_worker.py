"""The compile worker's entry point: `python -m keraslite_numba.compile_worker <keys>`.

coldstart.py starts these processes; each compiles the named kernels (warmup.parse: a family's
parallel kernel, "conv_fwd-f", or its serial twin, "conv_fwd-fs"; or coldgen.py's task lines
for generated kernels: kernel_par, or kernel_seq for a line ending in "s") into Numba's disk cache,
skipping those another process has done or is doing (coldstart's markers and locks). Serial
twins go first whatever the order (they are what a first step waits for). When stdin is a pipe,
the worker also takes keys written to it, one per line, and waits for more until it is closed
(or, with a first argument --idle=<seconds>, until it has waited that long with nothing to do).
A line "first <key> ..." moves those keys to the front, in that order (a plan's serial
twins); a line "only <key> ..." (the parent exiting) drops every other key.
Keys skipped because another process held them are taken up again at the end, waiting for that
process: if it was stopped halfway, this worker compiles them.

It lives apart from warmup.py and coldstart.py so that neither imports the other's caller
(coldstart imports warmup; this module imports both)."""
from __future__ import annotations

import os
import select
import stat
import sys

from . import coldgen, coldstart
from .warmup import compile_family, parse


def _valid(item: str) -> bool:
    try:
        if coldgen.is_task(item):
            if not coldgen.valid(item):
                raise ValueError(item)
        else:
            parse(item)
        return True
    except ValueError:
        print(f"keraslite_numba.warmup: unknown kernel family {item!r}", file=sys.stderr)
        return False


def _compile(item: str, wait: bool = False) -> bool:
    if coldgen.is_task(item):
        return coldstart.compile_unless_done(item.split("\t")[0], lambda _: coldgen.compile_task(item), wait=wait)
    return coldstart.compile_unless_done(item, compile_family, wait=wait)


class _Feed:
    """Keys written to a pipe on stdin, one per line."""

    def __init__(self, idle, fd=None):
        """`fd`: the pipe to read (default: stdin's, if it is a pipe)."""
        self.idle = idle  # seconds to wait for a line while idle before ending (None: until EOF)
        try:
            if fd is None:
                fd = sys.stdin.fileno()
            self.fd = fd if stat.S_ISFIFO(os.fstat(fd).st_mode) else None
        except (AttributeError, OSError, ValueError):
            self.fd = None
        self._buf = b""

    def read(self, block: bool) -> list:
        """The complete lines written so far (waiting for one when `block`, at most `idle`
        seconds); [] at end of input or after an idle wait, where `fd` becomes None."""
        keys = []
        while self.fd is not None:
            waiting = block and not keys
            if not select.select([self.fd], [], [], self.idle if waiting else 0)[0]:
                if waiting:  # idle for `idle` seconds: end (the parent sees the worker gone)
                    self.fd = None
                break
            data = os.read(self.fd, 4096)
            if not data:
                self.fd = None
                break
            self._buf += data
            *lines, self._buf = self._buf.split(b"\n")
            keys += [ln.decode().strip() for ln in lines if ln.strip()]
        return keys


def main(argv=None, feed_fd=None) -> int:
    """Worker entry: compile the given keys (and those fed on stdin, or with `feed_fd` on that
    pipe: a worker forked by coldstart.py), serial twins first."""
    queue = list(sys.argv[1:] if argv is None else argv)
    idle = None
    if queue and queue[0].startswith("--idle="):
        idle = float(queue.pop(0).partition("=")[2])
    if not all(_valid(k) for k in queue):
        return 2
    feed = _Feed(idle, feed_fd) if argv is None or feed_fd is not None else None
    skipped = []
    while True:
        if feed is not None:
            for item in feed.read(block=not queue):
                if item.startswith("only "):  # the parent is exiting: these keys, nothing else
                    keep = set(item.split()[1:])
                    queue = [k for k in queue if k.split("\t")[0] in keep]
                    skipped = [k for k in skipped if k.split("\t")[0] in keep]
                elif item.startswith("first "):  # a plan's order: these keys first, in this order
                    rank = {k: i for i, k in enumerate(item.split()[1:])}
                    queue.sort(key=lambda k: rank.get(k.split("\t")[0], len(rank)))
                elif _valid(item):
                    queue.append(item)
        if not queue:
            break
        item = next((k for k in queue if k.endswith("s")), queue[0])  # a task line ends in a type
        queue.remove(item)
        if not _compile(item) and not coldstart.is_done(item.split("\t")[0]):
            skipped.append(item)
    for item in skipped:
        _compile(item, wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
