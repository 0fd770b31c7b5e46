"""The output JSONL of a batch job: resuming from it, and appending records so a crash loses no finished line.

Records are appended a group at a time, each group's lines in one write followed by flush and
fsync, so after a crash the file holds whole records plus at most one partial last line. On
resume that partial line (no newline at its end, or not JSON) is cut off, the finished lines
are read back, and a line is never written twice: `append` drops records of lines already in
the file. A file written by another job (different model, seed, settings or group size) or for
input lines that have since changed is refused, with the fix, and so is a file another job is
writing (a job holds an exclusive lock on its output while it runs).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from lm.jobs.records import BatchLine


class OutputConflict(ValueError):
    """The output file cannot be resumed by this job (another job's records, a changed input, a corrupt line)."""


class OutputFile:
    """An output JSONL opened for appending; `done` holds the indices that already have a record."""

    def __init__(self, path: "str | os.PathLike", fingerprint: str, lines: Sequence[BatchLine], *,
                 overwrite: bool = False):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.done: set[int] = set()
        self.repaired_bytes = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _exclusive(self.path)
        try:
            if overwrite:
                self._lock.truncate(0)
            else:
                self._resume({line.index: line for line in lines})
        except BaseException:
            self.close()
            raise
        self.resumed = len(self.done)

    def close(self) -> None:
        """Let another job open the file (the lock is released)."""
        self._lock.close()

    def _resume(self, lines: dict[int, BatchLine]) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1  # bytes after the last newline: a record cut off by a crash
        body, tail = data[:end], data[end:]
        records = body.split(b"\n")[:-1]
        for number, raw in enumerate(records, start=1):
            where = f"{self.path}, line {number}"
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if number == len(records) and not tail:  # the last line, cut by a crash mid-write
                    end -= len(raw) + 1
                    break
                raise OutputConflict(f"{where}: not a JSON record; this is not a batch output file, or it was edited "
                                     "(give another --out, or --overwrite to start again)") from None
            self._check(where, record, lines)
            self.done.add(record["index"])
        if end < len(data):
            self.repaired_bytes = len(data) - end
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def _check(self, where: str, record: object, lines: dict[int, BatchLine]) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("index"), int):
            raise OutputConflict(f"{where}: a record without an index; this is not a batch output file "
                                 "(give another --out, or --overwrite to start again)")
        if record.get("job") != self.fingerprint:
            raise OutputConflict(f"{where}: written by another job (other model, seed, settings or group size); "
                                 "resume with the same settings, give another --out, or --overwrite to start again")
        line = lines.get(record["index"])
        if line is None:
            raise OutputConflict(f"{where}: a record of input line index {record['index']}, which the input does not "
                                 "have; give the input this output was written for, or --overwrite")
        if record.get("digest") != line.digest:
            raise OutputConflict(f"{where}: input line index {line.index} changed since its record was written; "
                                 "give the input this output was written for, or --overwrite to start again")
        if record["index"] in self.done:
            raise OutputConflict(f"{where}: a second record of input line index {line.index}; remove one")

    def append(self, records: Sequence[dict]) -> list[dict]:
        """Write the records of lines not yet done (in one write, flushed and synced); returns those written."""
        fresh = [r for r in records if r["index"] not in self.done]
        if not fresh:
            return []
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fresh)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.done.update(r["index"] for r in fresh)
        return fresh


def _exclusive(path: Path) -> Any:
    """The file opened for appending and locked, so two jobs never write one output (OutputConflict if locked)."""
    handle = open(path, "a+b")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputConflict(f"{path}: another batch job is writing this file; wait for it to finish, "
                             "or give another --out") from None
    return handle


def read_records(path: "str | os.PathLike") -> list[dict]:
    """The complete records of an output file, sorted by index (a partial last line is left out)."""
    data = Path(path).read_bytes()
    records = []
    for number, raw in enumerate(data[:data.rfind(b"\n") + 1].split(b"\n")[:-1], start=1):
        try:
            records.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise OutputConflict(f"{path}, line {number}: not a JSON record") from None
    return sorted(records, key=lambda r: r["index"])
