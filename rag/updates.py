"""Updates: given the indexed letters and the documents just read, what is new, changed, duplicate or gone.

Planning is a pure step (no embedding, no stores): :func:`plan_update` and :func:`plan_removal` parse
what must be parsed and say which letters the stores must drop and which they must embed.
:func:`apply_plan` then carries a plan out on copies of the stores, so searches keep reading the old ones: the
fresh letters are embedded and tokenised a batch at a time (:mod:`rag.build`, in worker processes when asked)
and each finished letter is kept in the build's checkpoint (:mod:`rag.checkpoint`) until the commit.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .analyze import Analyzer
from .build import Interrupts, Progress, Work, letter_results, worker_recipe
from .checkpoint import Checkpoint
from .chunk import Chunk, Splitter, chunk_letter
from .config import Config
from .embed import Encoder, ProgressFn, dense_units
from .ingest import Document, OcrProgressFn, Skipped, printable, read_documents
from .near_duplicates import Known, NearDuplicates, signature
from .parse import Letter, not_a_letter, parse_letter
from .stored_batches import Added, first_ids
from .stores import Stores
from .stores.disk import IndexFolderError


class NothingToIndex(IndexFolderError):
    """A build or update was given files and folders, and not one letter in them could be read."""


def read_sources(sources: Sequence[str], config: Config,
                 on_ocr_page: OcrProgressFn | None = None) -> tuple[list[Document], list[Skipped]]:
    """The readable documents and the skipped files of ``sources``, under ``config``'s input limits.

    ``on_ocr_page`` is called with (path, pages read, pages to read) while a scan is read by OCR.

    Raises:
        FileNotFoundError: a source does not exist.
        NothingToIndex: ``sources`` is not empty and no document could be read from it: a mistyped
            path must never turn into an empty index or a rebuild that drops every letter.
    """
    missing = [source for source in sources if not Path(source).exists()]
    if missing:  # a mistyped path is an error, not an empty index or a rebuild without it
        raise FileNotFoundError(f"no such file or folder: {', '.join(printable(m) for m in missing)} "
                                "(nothing was indexed)")
    documents, skipped = read_documents(sources, config=config, on_ocr_page=on_ocr_page)
    refused = {document.path: not_a_letter(document.text) for document in documents}
    skipped += [Skipped(path, reason) for path, reason in refused.items() if reason]
    documents = [document for document in documents if not refused[document.path]]
    if sources and not documents:
        reasons = "; ".join(printable(str(s)) for s in skipped[:5]) or "no letter files found"
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise NothingToIndex(f"no letter could be read from {', '.join(printable(s) for s in sources)}: "
                             f"{reasons}{more}. Nothing was changed.")
    return documents, skipped


@dataclass(frozen=True)
class UpdatePlan:
    """What an update does.

    Attributes:
        letters: every letter after the update, in order (records of kept letters may carry new paths).
        fresh: the letters to chunk and embed (new ones and changed ones).
        retire: ids whose chunks leave the stores (removed letters, and changed ones before re-embedding).
        added: ids of new letters.
        updated: ids of letters whose file changed (re-parsed under the same id).
        unchanged: ids of letters whose file was read again with the same content.
        duplicates: ``(path, letter id)``: a file whose text is already indexed under that letter.
        removed: ids no longer in the index.
        sketches: the fresh letters' MinHash signatures by id (:mod:`rag.near_duplicates`), for the letter store
            to keep (the next update finds their republished copies by them).
    """

    letters: dict[str, Letter]
    fresh: tuple[Letter, ...] = ()
    retire: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()
    removed: tuple[str, ...] = ()
    sketches: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


def plan_update(existing: Mapping[str, Letter], documents: Sequence[Document], *,
                replace_all: bool = False, indexed: Known | None = None) -> UpdatePlan:
    """Plan adding ``documents`` to the ``existing`` letters.

    A file already indexed with the same content is unchanged; with other content, its letter is
    re-parsed under the same id. A file whose text is already indexed under another path becomes a
    second path of that letter, and so does a near-duplicate (:mod:`rag.near_duplicates`) of a letter read in the
    same update or indexed before (``indexed``: their signatures) whose 文号, date and agency do not disagree with
    it. ``replace_all`` drops every letter not backed by one of ``documents``.

    Example:
        >>> plan = plan_update({}, [Document("/letters/a.txt", "一、…", "3fa9…", "utf-8")])
        >>> plan.added
        ('a',)
    """
    letters = {} if replace_all else dict(existing)
    by_path = {p: lid for lid, letter in letters.items() for p in letter.paths}
    by_hash = {letter.sha256: lid for lid, letter in letters.items()}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    duplicates: list[tuple[str, str]] = []
    fresh: list[Letter] = []
    near = NearDuplicates(seen_before=indexed if not replace_all and existing else None)
    for document in documents:
        path = os.path.abspath(document.path)
        old_id = by_path.get(path)
        if old_id is not None and old_id in letters and letters[old_id].sha256 == document.sha256:
            unchanged.append(old_id)
            continue
        if old_id is not None and old_id in letters:  # the file changed: it no longer backs the old letter
            letters[old_id] = replace(letters[old_id], paths=tuple(p for p in letters[old_id].paths if p != path))
            if not letters[old_id].paths:
                del letters[old_id]
        same = by_hash.get(document.sha256)
        if same is not None and same in letters:
            letters[same] = replace(letters[same], paths=tuple(dict.fromkeys([*letters[same].paths, path])))
            by_path[path] = same
            duplicates.append((path, same))
            continue
        letter_id = choose_letter_id(path, document.sha256, taken=letters.keys(), prefer=old_id)
        letter = parse_letter(document.text, letter_id=letter_id, path=path, sha256=document.sha256)
        twin = _republished(letter, near, letters)
        if twin is not None:
            by_path[path] = twin
            duplicates.append((path, twin))
            continue
        letters[letter_id] = letter
        by_hash[letter.sha256] = letter_id
        by_path[path] = letter_id
        fresh.append(letter)
        (updated if old_id is not None else added).append(letter_id)
    fresh_ids = {letter.letter_id for letter in fresh}
    return UpdatePlan(
        letters=letters, fresh=tuple(fresh),
        retire=tuple(lid for lid in existing if lid not in letters or lid in fresh_ids),
        added=tuple(added), updated=tuple(updated), unchanged=tuple(dict.fromkeys(unchanged)),
        duplicates=tuple(duplicates), removed=tuple(lid for lid in existing if lid not in letters),
        sketches=near.signatures_of(letter.letter_id for letter in fresh),
    )


def _republished(letter: Letter, near: NearDuplicates, letters: dict[str, Letter]) -> str | None:
    """The id of the letter indexed before or read earlier in this update that ``letter`` republishes (its path is
    added to it), or ``None`` (``letter``'s text is then remembered for the letters read after it)."""
    sketch, group = signature(letter.text), _compact(letter.doc_number)
    twin = next((lid for lid in near.find(sketch, group) if lid in letters and same_letter(letters[lid], letter)),
                None)
    if twin is None:
        near.add(letter.letter_id, sketch, group)
        return None
    letters[twin] = replace(letters[twin], paths=tuple(dict.fromkeys([*letters[twin].paths, *letter.paths])))
    return twin


def same_letter(a: Letter, b: Letter) -> bool:
    """Whether two near-duplicate texts can be one letter: no 文号, date or agency that both state differs (a
    reply dated anew, or the same text sent by another bureau, is another letter)."""
    return all(x is None or y is None or _compact(x) == _compact(y) for x, y in (
        (a.doc_number, b.doc_number), (a.date, b.date), (a.agency, b.agency)))


def _compact(text: str | None) -> str | None:
    return "".join(text.split()) if text is not None else None


def plan_removal(existing: Mapping[str, Letter], names: Sequence[str]) -> UpdatePlan:
    """Plan removing letters named by id, file path or file name.

    A file name alone must name one letter: two letters with files of that name (in different folders) are an
    error listing them, to be told apart by id or path.

    Raises:
        KeyError: a name matches no letter, or a file name matches several (nothing is planned then).
    """
    targets: list[str] = []
    for name in names:
        found = [lid for lid, letter in existing.items() if name == lid or os.path.abspath(name) in letter.paths]
        if not found:
            found = [lid for lid, letter in existing.items() if any(Path(p).name == name for p in letter.paths)]
            if len(found) > 1:
                candidates = "; ".join(f"{lid} ({', '.join(p for p in existing[lid].paths if Path(p).name == name)})"
                                       for lid in found)
                raise KeyError(f"{name!r} names {len(found)} letters: {candidates}. Give the letter id or the full "
                               "path of the one to remove (nothing was removed)")
        if not found:
            raise KeyError(f"no letter {name!r} in the index (give a letter id, path or file name)")
        targets.extend(found)
    gone = tuple(dict.fromkeys(targets))
    return UpdatePlan(letters={lid: letter for lid, letter in existing.items() if lid not in gone},
                      retire=gone, removed=gone)


def chunk_plan(plan: UpdatePlan, existing: Mapping[str, Letter], *, config: Config,
               splitter: Splitter | None = None) -> tuple[UpdatePlan, dict[str, list[Chunk]], tuple[Skipped, ...]]:
    """Chunk the plan's fresh letters; a letter over ``config.max_letter_chunks`` is left out, with the reason.

    A left-out new letter is not added; a left-out changed letter keeps its indexed version.

    Returns:
        The plan without the left-out letters, the chunks of each fresh letter by id, and the skipped files.
    """
    chunked: dict[str, list[Chunk]] = {}
    reasons: dict[str, str] = {}
    for letter in plan.fresh:
        chunks = chunk_letter(letter, config, splitter)
        if len(chunks) > config.max_letter_chunks:
            reasons[letter.letter_id] = (f"too many passages for one letter ({len(chunks):,} chunks; the limit is "
                                         f"{config.max_letter_chunks:,}: raise Config.max_letter_chunks to index it)")
        else:
            chunked[letter.letter_id] = chunks
    plan, skipped = leave_out(plan, existing, reasons)
    return plan, chunked, skipped


def leave_out(plan: UpdatePlan, existing: Mapping[str, Letter],
              reasons: Mapping[str, str]) -> tuple[UpdatePlan, tuple[Skipped, ...]]:
    """The plan without the fresh letters in ``reasons``, and their files as skipped with the reason.

    A left-out new letter is not added; a left-out changed letter keeps its indexed version.
    """
    dropped = {letter.letter_id: letter for letter in plan.fresh if letter.letter_id in reasons}
    if not dropped:
        return plan, ()
    skipped = tuple(Skipped(path, reasons[lid]) for lid, letter in dropped.items() for path in letter.paths)
    letters = {lid: letter for lid, letter in plan.letters.items() if lid not in dropped}
    letters.update({lid: existing[lid] for lid in dropped if lid in existing})
    kept_back = {lid for lid in dropped if lid in existing}
    return replace(plan, letters=letters, fresh=tuple(x for x in plan.fresh if x.letter_id not in dropped),
                   retire=tuple(lid for lid in plan.retire if lid not in kept_back),
                   added=tuple(lid for lid in plan.added if lid not in dropped),
                   updated=tuple(lid for lid in plan.updated if lid not in dropped),
                   duplicates=tuple(d for d in plan.duplicates if d[1] not in dropped)), skipped


@dataclass(frozen=True)
class Applied:
    """A plan carried out: the next stores, the plan as done (letters that failed left out), what it cost.

    Attributes:
        stores: the new snapshot.
        plan: the plan without the letters that could not be embedded.
        chars: characters embedded now (letters restored from a checkpoint cost none).
        skipped: the files of the letters that could not be embedded, with the reason.
    """

    stores: Stores
    plan: UpdatePlan
    chars: int = 0
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()


def apply_plan(stores: Stores, plan: UpdatePlan, *, config: Config, encoder: Encoder, analyzer: Analyzer,
               splitter: Splitter | None = None, chunked: Mapping[str, Sequence[Chunk]] | None = None,
               progress: bool = False, on_progress: ProgressFn | None = None, workers: int = 1,
               checkpoint: Checkpoint | None = None) -> Applied:
    """The next snapshot: fresh letters embedded and added a batch at a time, then retired chunks dropped, on copies.

    Args:
        chunked: the fresh letters' chunks, when :func:`chunk_plan` already made them.
        progress: show a progress bar (letters, chunks, characters per second, ETA) on stderr.
        on_progress: called with (chunks done, chunks in all) after each batch.
        workers: processes that embed and tokenise (see :func:`rag.build.letter_results`).
        checkpoint: where finished letters are kept and found again (a killed build resumes from it).

    Raises:
        WorkerDied: a worker process ended mid-batch (finished letters stay in ``checkpoint``).
        NothingToIndex: every letter failed to embed and the index would be left with none.
    """
    made = {letter.letter_id: list(chunked[letter.letter_id]) if chunked is not None
            else chunk_letter(letter, config, splitter) for letter in plan.fresh}
    first_id = first_ids(plan.fresh, made, stores.letters.next_id)
    dense, lexical = stores.dense.copy(), stores.lexical.copy()
    added = Added(dense, lexical, first_id, made, checkpoint, plan.letters)
    tracker = Progress(len(plan.fresh), sum(map(len, made.values())), show=progress, on_progress=on_progress)
    works = (Work(letter.letter_id, tuple(tuple(dense_units(letter, c, config)) for c in made[letter.letter_id]),
                  tuple(c.text for c in made[letter.letter_id]), len(letter.text)) for letter in plan.fresh)
    restore = checkpoint.restore if checkpoint is not None else (lambda work: None)
    try:
        with Interrupts() as stop, closing(letter_results(works, encoder=encoder, analyzer=analyzer,
                                                          workers=workers, restore=restore)) as results:
            for batch, done in results:
                added.add(batch, done)
                tracker.update(batch, done)
                stop.check()
    finally:
        tracker.close()
    plan, skipped = leave_out(plan, stores.letters.letters, added.failed)
    if added.failed and not plan.letters:  # an index of no letters: the encoder is broken, not every letter
        raise NothingToIndex(f"not one of the {len(added.failed):,} letters to index could be embedded: "
                             f"{next(iter(added.failed.values()))}. Nothing was changed.")
    retired = stores.letters.chunk_ids(plan.retire)
    dense.remove(retired)
    lexical.remove(retired)
    letters = stores.letters.changed(retire=plan.retire, letters=plan.letters, chunks=added.chunks,
                                     sketches=plan.sketches)
    alone = workers > 1 and bool(plan.fresh) and worker_recipe(encoder, analyzer) is None
    notes = (f"embedded in this process, not {workers} workers: this encoder or analyzer cannot be sent to a "
             "worker process (see rag.build.worker_recipe)",) if alone else ()
    return Applied(Stores(letters, dense, lexical, stores.dense_backend, stores.lexical_backend), plan,
                   added.chars, skipped, notes)


def choose_letter_id(path: str, sha256: str, taken: Collection[str], prefer: str | None = None) -> str:
    """A letter's id: the one it had (``prefer``), else its file name's stem, made unique with its hash."""
    stem = Path(path).stem or "letter"
    letter_id = prefer if prefer and prefer not in taken else stem
    if letter_id in taken:
        letter_id = f"{stem}-{sha256[:8]}"
    return letter_id


@dataclass(frozen=True)
class BuildReport:
    """What a build or update did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()  # (path, letter id it duplicates)
    removed: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    new_chunks: int = 0
    letters: int = 0
    chunks: int = 0
    seconds: float = 0.0
    chars_embedded: int = 0
    notes: tuple[str, ...] = ()  # store maintenance done on the way (compacted, switched), or no workers after all

    def summary(self) -> str:
        parts = [f"{self.letters} letters, {self.chunks} chunks in the index",
                 f"added {len(self.added)}", f"updated {len(self.updated)}", f"unchanged {len(self.unchanged)}"]
        if self.duplicates:
            parts.append(f"duplicates {len(self.duplicates)}")
        if self.removed:
            parts.append(f"removed {len(self.removed)}")
        parts.append(f"skipped {len(self.skipped)}")
        return "; ".join(parts) + f" ({self.seconds:.1f} s)" + "".join(f"\n{note}" for note in self.notes)

    @classmethod
    def of(cls, plan: UpdatePlan, stores: Stores, skipped: Sequence[Skipped], *, seconds: float,
           chars_embedded: int, notes: Sequence[str] = ()) -> BuildReport:
        """The report of ``plan`` carried out into ``stores``."""
        fresh = {letter.letter_id for letter in plan.fresh}
        return cls(added=plan.added, updated=plan.updated, unchanged=plan.unchanged, duplicates=plan.duplicates,
                   removed=plan.removed, skipped=tuple(skipped),
                   new_chunks=len(stores.letters.chunk_ids(fresh)),
                   letters=len(stores.letters.letters), chunks=len(stores.letters), seconds=seconds,
                   chars_embedded=chars_embedded, notes=(*notes, *_maintenance(stores)))


def _maintenance(stores: Stores) -> tuple[str, ...]:
    note = stores.dense.stats().get("maintenance")
    return (f"dense store: {note}",) if note else ()
