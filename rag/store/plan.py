"""The first step of an ingest: decide what changed, from file hashes alone (pure, no I/O).

Given the files a scan found (source name → path and SHA-256), what the scan could not
use, and the manifest of the index as it is, :func:`plan_changes` says which files are
kept as they are, which must be (re)chunked and which are removed. Nothing is read,
chunked or embedded here; that is :func:`rag.store.ingestion.materialise`, and making
the result visible is the store's ``commit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.store.manifest import FileEntry, Manifest


@dataclass
class IngestPlan:
    keep: dict[str, FileEntry] = field(default_factory=dict)  # unchanged, or kept at their last good version
    todo: dict[str, tuple[Path, str]] = field(default_factory=dict)  # to (re)chunk: source -> (path, SHA-256)
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged files
    duplicates: dict[str, str] = field(default_factory=dict)  # source -> the source indexed with that content
    dropped_duplicates: bool = False  # an indexed file is now a duplicate of another and leaves the index


def plan_changes(
    found: dict[str, tuple[Path, str]],
    unusable: set[str],
    unknown: Callable[[Path], bool],
    previous: Manifest | None,
    scanned: list[Path],
    settings_changed: bool,
) -> IngestPlan:
    """What to keep, (re)process and drop.

    ``unusable``: sources the scan found but could not use (their last good version is
    kept); ``unknown(path)``: whether a path lies in a folder that could not be listed (its
    files are kept too); ``scanned``: the roots of this ingest (an indexed file outside
    them is someone else's, and kept); ``settings_changed``: chunking settings or code
    differ from the index's, so every file is re-chunked.
    """
    old_files = previous.files if previous else {}
    plan = IngestPlan(duplicates=duplicates(found, old_files))
    for source, (path, digest) in found.items():
        old = old_files.get(source)
        if source in plan.duplicates:
            continue  # indexed under the other name; an older version of this one is dropped
        if old is not None and old.sha256 == digest and not settings_changed:
            plan.keep[source] = old
            plan.skipped.append(source)
        else:
            plan.todo[source] = (path, digest)
            (plan.changed if old is not None else plan.new).append(source)
    for source, old in old_files.items():
        if source in found:
            continue
        if source in unusable or unknown(Path(old.path)):
            plan.keep[source] = old  # unusable now, or in a folder we could not list: keep the last good version
        elif in_scope(Path(old.path), scanned):
            plan.removed.append(source)
        else:
            plan.keep[source] = old  # ingested from elsewhere; not ours to judge
    plan.dropped_duplicates = any(source in old_files for source in plan.duplicates)
    return plan


def duplicates(found: dict[str, tuple[Path, str]], old_files: dict[str, FileEntry]) -> dict[str, str]:
    """Files whose content equals another found file's: source -> the source indexed instead.

    The file already indexed with that content is preferred, then the first one scanned.
    """
    owner: dict[str, str] = {}  # SHA-256 -> source indexed with that content
    for source, (_path, digest) in found.items():
        old = old_files.get(source)
        if old is not None and old.sha256 == digest:
            owner.setdefault(digest, source)
    found_twice = {}
    for source, (_path, digest) in found.items():
        first = owner.setdefault(digest, source)
        if first != source:
            found_twice[source] = first
    return found_twice


def in_scope(path: Path, roots: list[Path]) -> bool:
    """Whether a previously ingested file lived under one of the scanned folders (or was named)."""
    for root in roots:
        root = root.resolve()
        if path.resolve() == root or root in path.resolve().parents:
            return True
    return False
