"""Checks on the files a command reads and writes, made before any work starts.

* :func:`check_no_clash`: no file a command writes is a file it reads (resolved paths, so links count).
* :func:`check_writable`: an output path is not a folder and its folder can be written.
* :func:`sniff` / :func:`check_looks_like`: what a file's first bytes say it is, so that a ``.csv`` holding
  JSON (or a ``.npz`` holding text) is named for what it is rather than failing deep inside a parser.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from handprior.errors import HandpriorInputError

# Largest array a user's .npz may declare, and largest .json/.csv read: a file over these is refused before
# anything is allocated (a 2 GiB pred is 10 million frames of float64 joints).
MAX_ARRAY_BYTES = 2 * 1024**3
MAX_TEXT_BYTES = 1024**3
SNIFF_BYTES = 4096

KINDS = {
    "npz": "a .npz (zip) archive",
    "npy": "a single .npy array (save with np.savez(path, pred=...))",
    "pickle": "a Python pickle",
    "json": "JSON",
    "csv": "CSV",
}


def sniff(head: bytes) -> str | None:
    """``npz``, ``npy``, ``pickle``, ``json`` or ``csv`` from a file's first bytes; None when it is none of them."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    text = head.decode("utf-8-sig", errors="ignore").lstrip()
    if text.startswith(("[", "{")):
        return "json"
    first = text.split("\n", 1)[0]
    if "," in first and "\x00" not in first:
        return "csv"
    return None


def check_looks_like(path: Path, kind: str, head: bytes, ignore: Iterable[str] = ()) -> None:
    """Refuse a file whose first bytes say it is another kind than its extension (``ignore``: kinds that the
    caller tells apart itself)."""
    found = sniff(head)
    if found is not None and found != kind and found not in ignore:
        raise HandpriorInputError(f"this .{kind} file looks like {KINDS[found]}; check its extension", path)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same resolved path (links followed), or the same inode."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_no_clash(reads: dict[str, str | Path | None], writes: dict[str, str | Path | None]) -> None:
    """Refuse when a file to write is a file to read (or one that another write also goes to).

    Args:
        reads: what each read file is (``"the input"``) -> its path (None: not used).
        writes: what each written file is (``"the output"``) -> its path (None: not written).
    """
    read = [(role, Path(path)) for role, path in reads.items() if path is not None]
    written = [(role, Path(path)) for role, path in writes.items() if path is not None]
    for index, (role, path) in enumerate(written):
        for other_role, other in read:
            if same_file(path, other):
                raise HandpriorInputError(
                    f"{role} would overwrite {other_role} {other}{_link_note(path, other)}; choose another name", path
                )
        for other_role, other in written[:index]:
            if same_file(path, other):
                raise HandpriorInputError(f"{role} and {other_role} ({other}) are the same file", path)


def _link_note(a: Path, b: Path) -> str:
    return " (through a link)" if a.absolute() != b.absolute() else ""


def check_writable(path: str | Path, folder: bool = False) -> None:
    """Refuse an output that cannot be written: a folder where a file goes (or a file where a folder goes),
    a parent that is a file, or a folder without write permission. Nothing is created."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise HandpriorInputError("is a file, not a folder to write into", path)
    if not folder and path.is_dir():
        raise HandpriorInputError("is a folder; give a file name to write", path)
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise HandpriorInputError(f"cannot be written: {parent} is a file, not a folder", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HandpriorInputError(f"cannot be written: no write permission in {parent}", path)


def store_files(folder: str | Path) -> dict[str, Path]:
    """The files that writing a sequence store into ``folder`` writes (see :func:`handprior.data.store.write_store`),
    by role, for :func:`check_no_clash`."""
    folder = Path(folder)
    names = ("pred.npy", "gt.npy", "offsets.npy", "gt_theta.npy", "gt_beta.npy", "valid.npy", "meta.json")
    return {f"the store file {folder.name}/{name}": folder / name for name in names}
