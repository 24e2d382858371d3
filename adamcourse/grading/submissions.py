"""Find the submissions in a folder, treating everything in it as hostile.

One submission per sub-folder (holding exactly one notebook, at any depth) or per ``.ipynb`` file directly in
the folder; a single notebook in the folder (Gradescope's ``/autograder/submission``) is one student. Nothing is
followed or opened unless it is a regular file: symbolic links (to ``/dev/zero``, to another student's notebook),
devices, FIFOs and sockets are refused with a row saying why, as are notebooks over ``max_bytes``. Each notebook
is read once, here, into memory: what is graded cannot change afterwards. Other regular files (a README, data)
are not submissions and get no row; hidden entries and ``__pycache__`` are skipped.

Student ids are unique (also ignoring case) and safe as file names: letters, digits, ``.``, ``_`` and ``-``,
starting with a letter or digit. Entries are taken in sorted order, and a name that another entry already holds
gets the first free ``-2``, ``-3``, ... that is not also an entry's own name: ``alice/``, ``alice-2.ipynb`` and
``alice.ipynb`` become ``alice``, ``alice-2`` and ``alice-3``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 32 * 2**20      # a notebook with outputs and images stays well under this
MAX_ENTRIES = 10_000        # files and folders looked at inside one student's folder
MAX_DEPTH = 8
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_KINDS = [(stat.S_ISLNK, "a symbolic link (submit the file itself)"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]


@dataclass
class Submission:
    student: str                  # unique, safe as a file name
    entry: str                    # the entry in the submissions folder (the original name)
    path: str | None = None       # the notebook, relative to the submissions folder
    notebook: bytes | None = None  # its content, read once; None when there is nothing to run
    problem: str | None = None    # why there is nothing to run


def _kind(mode: int) -> str | None:
    """Why an entry of this mode is refused, or None for a regular file or folder."""
    return next((text for test, text in _KINDS if test(mode)), None)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _read(dir_fd: int, name: str, rel: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The file ``name`` in ``dir_fd`` if it is a regular file of at most ``max_bytes``, else the problem."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if _kind(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return None, f"refused: {rel} is {_kind(st.st_mode) or 'not a regular file'}"
        if st.st_size > max_bytes:
            return None, f"refused: {rel} is {_mb(st.st_size)}, over the {_mb(max_bytes)} limit"
        fd = os.open(name, _OPEN, dir_fd=dir_fd)
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
                return None, f"refused: {rel} changed while it was being read"
            chunks, size = [], 0
            while size <= max_bytes and (chunk := os.read(fd, min(2**20, max_bytes + 1 - size))):
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as e:
        return None, f"could not read {rel}: {e.strerror or e}"
    if size > max_bytes:
        return None, f"refused: {rel} grew over the {_mb(max_bytes)} limit while it was being read"
    return b"".join(chunks), None


def _notebooks(dir_fd: int, rel: str, depth: int, budget: list[int]) -> list[tuple[int, str, str]]:
    """(dir fd, name, relative path) of every ``*.ipynb`` entry below ``dir_fd``, of any kind, without following
    links; the fds stay open for the caller to close. Raises ValueError when the folder is too large or deep."""
    found: list[tuple[int, str, str]] = []
    with os.scandir(dir_fd) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            budget[0] -= 1
            if budget[0] < 0:
                raise ValueError(f"more than {MAX_ENTRIES} files")
            path = f"{rel}/{entry.name}"
            if entry.name.lower().endswith(".ipynb") and not entry.is_dir(follow_symlinks=False):
                found.append((os.dup(dir_fd), entry.name, path))
            elif entry.is_dir(follow_symlinks=False) and entry.name != ".ipynb_checkpoints":
                if depth >= MAX_DEPTH:
                    raise ValueError(f"folders nested deeper than {MAX_DEPTH}")
                sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    found += _notebooks(sub, path, depth + 1, budget)
                finally:
                    os.close(sub)
    return found


def _folder(top: int, name: str, max_bytes: int) -> Submission:
    sub = Submission(name, name)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=top)
    except OSError as e:
        sub.problem = f"could not open the folder {name}: {e.strerror or e}"
        return sub
    found: list[tuple[int, str, str]] = []
    try:
        found = _notebooks(fd, name, 1, [MAX_ENTRIES])
        if not found:
            sub.problem = "no notebook: the folder holds no .ipynb file"
        elif len(found) > 1:
            sub.problem = f"several notebooks ({', '.join(p for _, _, p in found)}): submit exactly one"
        else:
            sub.path = found[0][2]
            sub.notebook, sub.problem = _read(found[0][0], found[0][1], sub.path, max_bytes)
    except (OSError, ValueError) as e:
        sub.problem = f"refused: the folder {name} has {e}" if isinstance(e, ValueError) \
            else f"could not read the folder {name}: {e.strerror or e}"
    finally:
        for dup, _, _ in found:
            os.close(dup)
        os.close(fd)
    return sub


def safe_id(name: str) -> str:
    """``name`` as a file-name-safe id: runs of other characters become ``_``; at most 64 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:64].rstrip("._-")
    return cleaned or "student"


def _unique(subs: list[Submission]) -> None:
    own = {s.student.lower() for s in subs}
    taken: set[str] = set()
    for s in subs:
        name, n = s.student, 1
        while name.lower() in taken or (n > 1 and name.lower() in own):
            n += 1
            name = f"{s.student}-{n}"
        taken.add(name.lower())
        s.student = name


def discover(folder: str | Path, max_bytes: int = MAX_BYTES) -> list[Submission]:
    """Every submission in ``folder``, sorted by entry name, each with its notebook's bytes or a problem."""
    folder = Path(folder)
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise FileNotFoundError(f"submissions folder {folder} does not exist or is not a folder ({e.strerror})") \
            from None
    subs: list[Submission] = []
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name == "__pycache__":
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            stem = name[:-6] if name.lower().endswith(".ipynb") else name
            if stat.S_ISDIR(mode):
                subs.append(_folder(top, name, max_bytes))
            elif stat.S_ISREG(mode) and stem != name:
                notebook, problem = _read(top, name, name, max_bytes)
                subs.append(Submission(stem, name, name if notebook is not None else None, notebook, problem))
            elif not stat.S_ISREG(mode):  # a link, device, FIFO or socket: someone meant it as a submission
                subs.append(Submission(stem, name, problem=f"refused: {name} is {_kind(mode)}"))
    finally:
        os.close(top)
    for s in subs:
        s.student = safe_id(s.student)
    _unique(subs)
    return subs
