"""The data every benchmark reads, made once per run in the work directory.

The corpus is the seven loghub 2k samples (../shared/corpus/loghub, or `$LOGSPHERE_CORPUS/loghub`
as for the tests; loghub's LICENSE asks every use to cite the loghub repository and paper, which
BENCHMARKS.md does) interleaved in blocks of 16 lines, as a collector reading several servers
sees them (the same mix as benches/parse.rs), repeated to the wanted size. It is never committed:
it lives in the run's work directory, removed at the end.

The records are what `ls-tail` makes of that corpus (with an `error` category for ERROR and
above), so that every stage after ls-tail measures the same lines."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .measure import BenchError
from .prepare import REPO

BLOCK_LINES = 16
CHUNK = 1 << 22


@dataclass(frozen=True)
class Sample:
    """A file of whole lines."""

    path: Path
    bytes: int
    lines: int

    @property
    def mib(self):
        return self.bytes / (1 << 20)


def loghub_dir():
    root = Path(os.environ.get("LOGSPHERE_CORPUS", REPO.parent / "shared/corpus"))
    loghub = root / "loghub"
    if not sorted(loghub.glob("*/*_2k.log")):
        raise BenchError(f"the loghub corpus is not at {loghub}: set LOGSPHERE_CORPUS to the "
                         "directory holding loghub/")
    return loghub


def mixed_corpus(path, size):
    """The loghub samples interleaved, repeated to at least `size` bytes."""
    systems = [log.read_bytes().splitlines(keepends=True)
               for log in sorted(loghub_dir().glob("*/*_2k.log"))]
    unit = []
    for start in range(0, max(map(len, systems)), BLOCK_LINES):
        for lines in systems:
            unit.extend(lines[start:start + BLOCK_LINES])
    unit_bytes = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in unit)
    repeats = -(-size // len(unit_bytes))
    with open(path, "wb") as out:
        for _ in range(repeats):
            out.write(unit_bytes)
    return Sample(Path(path), repeats * len(unit_bytes), repeats * len(unit))


def head(source, path, *, max_bytes=None, max_lines=None):
    """The first whole lines of `source` up to a size or a count."""
    written = lines = 0
    with open(source.path, "rb") as src, open(path, "wb") as out:
        for line in src:
            if (max_bytes is not None and written + len(line) > max_bytes) or \
                    (max_lines is not None and lines >= max_lines):
                break
            out.write(line)
            written += len(line)
            lines += 1
    if max_lines is not None and lines < max_lines:
        raise BenchError(f"{source.path} has only {lines} lines, {max_lines} wanted")
    return Sample(Path(path), written, lines)


def split(source, directory, files, max_bytes):
    """The first `max_bytes` of `source` in `files` files of about the same number of lines.

    Each file begins with a line naming it: the corpus repeats, and files of equal content would
    be taken by ls-tail for copies of each other and not read."""
    part = head(source, Path(directory).with_suffix(".part"), max_bytes=max_bytes)
    Path(directory).mkdir()
    per_file = -(-part.lines // files)
    extra = 0
    with open(part.path, "rb") as src:
        for index in range(files):
            with open(Path(directory) / f"f{index:05}.log", "wb") as out:
                first = f"2026-11-22 00:00:00,000 INFO benchmark file {index} of {files}\n".encode()
                extra += len(first)
                out.write(first)
                out.writelines(line for _, line in zip(range(per_file), src))
    part.path.unlink()
    return Sample(Path(directory), part.bytes + extra, part.lines + files)


def warm(path):
    """Reads a file, or every file of a directory, into the page cache."""
    path = Path(path)
    for file in sorted(path.iterdir()) if path.is_dir() else [path]:
        with open(file, "rb") as opened:
            while opened.read(CHUNK):
                pass


def count_lines(path):
    lines = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            lines += chunk.count(b"\n")
    return lines


class LineCounter:
    """Counts the lines of a file that is still being written, reading only what is new."""

    def __init__(self, path):
        self.path = Path(path)
        self.lines = 0
        self._file = None

    def count(self):
        if self._file is None:
            if not self.path.exists():
                return 0
            self._file = open(self.path, "rb")
        while chunk := self._file.read(CHUNK):
            self.lines += chunk.count(b"\n")
        return self.lines

    def close(self):
        if self._file:
            self._file.close()


def share(sample, needles):
    """The fraction of lines of `sample` holding any of `needles` (bytes)."""
    hits = 0
    with open(sample.path, "rb") as file:
        for line in file:
            hits += any(needle in line for needle in needles)
    return hits / sample.lines if sample.lines else 0.0


def keyed(sample, path, field):
    """`sample`'s JSON lines, each preceded by its record's `field` and a tab (kcat -K '\\t'), and
    the first record: the input of a kcat that keys its messages as ls-ship does."""
    first = None
    with open(sample.path, "rb") as src, open(path, "wb") as out:
        for line in src:
            record = json.loads(line)
            first = first or record
            out.write(str(record.get(field, "")).encode() + b"\t" + line)
    return Sample(Path(path), sample.bytes, sample.lines), first
