"""The Index: letters → chunks → stores, kept up to date on disk, searched and asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analyze import Analyzer
from .answer import Answer, answer_stream, final_answer
from .answer.compare import Comparison
from .checkpoint import Checkpoint
from .chunk import Chunk, Splitter
from .config import Config
from .embed import Encoder, ProgressFn, load_encoder, model_name
from .ingest import Document, OcrProgressFn, Skipped
from .parse import Letter
from .retrieve.filters import Filters
from .retrieve.hits import Hit
from .retrieve.hybrid import search
from .retrieve.query import clean_question
from .searches import compare_letters, placed_search
from .stores import Stores
from .stores.disk import IndexFolderError, build_lock, claim_folder, refuse_foreign_folder
from .stores.generations import GenerationLease, remove_leftovers
from .stores.snapshot import (
    StoreServer,
    check_build_settings,
    checked_encoder,
    dense_params,
    load_snapshot,
    open_snapshot,
    reload_if_changed,
    save_snapshot,
    store_place,
)
from .updates import BuildReport, NothingToIndex, apply_plan, chunk_plan, plan_removal, plan_update, read_sources

if TYPE_CHECKING:
    from .answer.generative import LLM


class Index:
    """A searchable index of reply letters: section-aware chunks in a dense store and a lexical store.

    Example:
        >>> index = Index.build(["letters/"], "index/")  # or Index.load("index/")
        >>> for hit in index.search("what subsidies exist for Class II device registration", k=3):
        ...     print(hit.citation, round(hit.score, 3), hit.text[:40])
        >>> print(index.ask("临床试验费用能不能用创新券？").text)
    """

    def __init__(self, *, config: Config, encoder: Encoder, analyzer: Analyzer, stores: Stores | None = None,
                 directory: str | Path | None = None, splitter: Splitter | None = None,
                 sources: Sequence[str] = (), store_token: str | None = None) -> None:
        self.config, self.encoder, self.analyzer = config, encoder, analyzer
        self.directory = Path(directory) if directory is not None else None
        self.sources: tuple[str, ...] = tuple(sources)
        self.report = BuildReport()
        self._splitter = splitter
        self._store_token = store_token  # a store server's credentials: kept in memory only
        self._stores = stores or Stores.empty(encoder.dim, config.dense, config.lexical,
                                              store_place(self.directory, config, store_token), dense_params(config))
        self._write_lock = threading.Lock()
        self._generation: str | None = None  # the on-disk generation our stores match
        self._lease: GenerationLease | None = None  # keeps that generation's folder while our stores read it

    @classmethod
    def build(cls, paths: Iterable[str | Path], directory: str | Path | None = None, *,
              config: Config | None = None, encoder: Encoder | None = None, analyzer: Analyzer | None = None,
              splitter: Splitter | None = None, rebuild: bool = False, progress: bool = False,
              on_progress: ProgressFn | None = None, store_token: str | None = None,
              on_ocr_page: OcrProgressFn | None = None, workers: int = 1) -> Index:
        """Build an index from letter files and folders, or update the one in ``directory``.

        Args:
            paths: files or folders of letters (searched recursively).
            directory: where the index lives; ``None`` keeps it in memory only.
            config: settings (default :class:`Config`); its ``model`` picks the encoder.
            encoder: an encoder to use instead of loading ``config.model``.
            analyzer: the lexical analyzer (default: jieba + the bundled glossary).
            splitter: how over-long sections are split (default: at sentence ends).
            rebuild: ignore an existing index in ``directory`` and build from scratch.
            progress: show a progress bar (letters, chunks, characters per second, ETA) on stderr.
            on_progress: called with (chunks done, chunks in all) while embedding.
            store_token: credentials for a store server (``Config.milvus_uri``); never written to disk.
            on_ocr_page: called with (path, pages read, pages to read) while a scan is read by OCR.
            workers: processes that embed and tokenise. With more than one, each loads the encoder by its
                model name (the bundled and sentence-transformers ones), or gets a copy of ``encoder`` when
                it pickles; an encoder that does not (or a custom analyzer class) is used in this process.
                With a ``directory``, finished letters are kept in ``DIR/.build/`` until the commit, so a
                killed build run again embeds only the rest.

        Returns:
            The index; ``index.report`` says what was added, skipped or left unchanged.

        Raises:
            IndexLoadError: ``directory`` holds an index built with another encoder or settings
                (pass ``rebuild=True``) or a corrupt one.
            IndexLocked: another build is writing ``directory``.
            NothingToIndex: no letter could be read from ``paths`` (nothing is changed or created).
        """
        config = config or Config()
        if encoder is not None:
            config = config.with_(model=model_name(encoder.id))
        sources = [str(p) for p in paths]
        if directory is not None:  # a folder of the user's is refused before a model is loaded
            refuse_foreign_folder(Path(directory))
        read = read_sources(sources, config, on_ocr_page)  # before anything is loaded, locked or written
        if directory is not None:  # made an index before a store (Milvus Lite) puts its files there
            claim_folder(Path(directory))
        if directory is not None and not rebuild and (Path(directory) / "manifest.json").exists():
            index = cls.load(directory, encoder=encoder, analyzer=analyzer, config=config, expect=config,
                             store_token=store_token, model=None if encoder is not None else config.model,
                             milvus_uri=config.milvus_uri)
            index._splitter = splitter
        else:
            encoder = encoder or load_encoder(config.model)
            index = cls(config=config.with_(model=model_name(encoder.id)), encoder=encoder,
                        analyzer=analyzer or Analyzer(), directory=directory, splitter=splitter,
                        store_token=store_token)
        index._add_read(sources, read, progress=progress, on_progress=on_progress, replace_all=rebuild,
                        workers=workers)
        return index

    @classmethod
    def load(cls, directory: str | Path, *, encoder: Encoder | None = None, analyzer: Analyzer | None = None,
             config: Config | None = None, expect: Config | None = None, store_token: str | None = None,
             model: str | None = None, milvus_uri: str | None = None) -> Index:
        """Load a saved index, checking it is whole and matches the encoder.

        Args:
            directory: the index folder.
            encoder: the encoder to query with; by default ``model``'s, loaded on first use.
            model: the ``--model`` to query with when no ``encoder`` is given (default: the bundled one). It must
                be the index's: the model to load is never taken from an index. When it is not given, an index
                of another model is refused only when the model is needed (listing letters loads none).
            analyzer: the lexical analyzer (default: jieba + the bundled glossary, loaded on first use).
            config: search and answer settings (default: :class:`Config`'s); its build settings
                (chunking, encoder, stores) are ignored: they always come from the index.
            expect: build settings the caller requires; an index built otherwise is refused.
            store_token: credentials for the index's store server, if it has one (see
                :func:`~rag.stores.snapshot.token_variable`).
            milvus_uri: the Milvus server the caller trusts with the index's rows (and ``store_token``); an index
                naming another server, or a token variable other than ``config.milvus_token_env``, is refused
                before anything connects. ``None``: Milvus Lite in the index folder, or no Milvus.

        Raises:
            IndexLoadError: missing, corrupt, half-written, other format, other settings or another encoder.
        """
        directory = Path(directory)
        asked = config or Config()
        manifest, generation, lease = open_snapshot(directory, config)
        if expect is not None:
            check_build_settings(directory, manifest, expect)
        built = Config.from_dict(manifest.get("config", {}))
        encoder = checked_encoder(directory, manifest, encoder, model)
        index = cls(config=(config or Config()).with_(**built.build_settings()), encoder=encoder,
                    analyzer=analyzer or Analyzer(), directory=directory, sources=manifest.get("sources", []),
                    stores=load_snapshot(directory, manifest, generation, encoder.dim, store_token,
                                         StoreServer(milvus_uri, asked.milvus_token_env, asked.milvus_timeout)),
                    store_token=store_token)
        index._generation, index._lease = manifest.get("generation"), lease
        return index

    def with_config(self, **changes: Any) -> Index:
        """A view of the same index with other search or answer settings (e.g. ``fusion="dense"``), or with
        another ``ivf_nprobe`` (IVF cells scanned per query: recall against speed; every cell: an exhaustive scan)."""
        config = self.config.with_(**changes)
        if config.fixed_build_settings() != self.config.fixed_build_settings():
            raise ValueError("build settings (chunking, encoder, stores) cannot change on a built index; rebuild it")
        stores = self._stores
        if config.ivf_nprobe != self.config.ivf_nprobe:  # built as a default, may change per view
            stores = stores.with_dense_params(dense_params(config))
        view = Index(config=config, encoder=self.encoder, analyzer=self.analyzer, stores=stores,
                     sources=self.sources, store_token=self._store_token)
        view._lease = self._lease  # the same files: kept while either reads them
        return view

    @property
    def letters(self) -> list[Letter]:
        return list(self._stores.letters.letters.values())

    @property
    def chunks(self) -> list[Chunk]:
        return list(self._stores.letters.chunks.values())

    def letter(self, letter_id: str) -> Letter:
        """The letter with this id. Raises ``KeyError`` naming the id."""
        try:
            return self._stores.letters.letters[letter_id]
        except KeyError:
            raise KeyError(f"no letter {letter_id!r} in the index") from None

    def __len__(self) -> int:
        return len(self._stores.letters)

    def search(self, question: str, k: int = 5, filters: Filters | None = None, *,
               timings: MutableMapping[str, float] | None = None) -> list[Hit]:
        """The ``k`` best passages for a question, in Chinese or English.

        Args:
            question: free text; control characters are dropped, very long text truncated.
            k: number of hits (at most the number of chunks).
            filters: restrict to letters, an agency or a date range.
            timings: when given, filled with seconds spent in ``encode``, ``dense``, ``lexical``, ``fusion``.

        Returns:
            Hits, best first; empty when nothing matches (or filters exclude everything).

        Raises:
            BadQuery: empty question or ``k < 1``.
        """
        return search(question, k, filters, stores=self._stores, encoder=self.encoder, analyzer=self.analyzer,
                      config=self.config, timings=timings)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None,
            llm: LLM | None = None) -> Answer:
        """Answer a question with quoted, cited sentences, or abstain (see :func:`rag.answer.answer`).

        ``k`` passages are read (default ``config.answer_passages``). With an ``llm`` the answer is written
        by that chat endpoint and its citations checked; it falls back to the extractive answer, with a
        note, when the endpoint fails.

        Raises:
            BadQuery: empty question or ``k < 1``.
        """
        return final_answer(self.ask_stream(question, k, filters, llm))

    def ask_stream(self, question: str, k: int | None = None, filters: Filters | None = None,
                   llm: LLM | None = None) -> Iterator[str | Answer]:
        """:meth:`ask`, streamed: with an ``llm``, the model's text deltas first; always a final :class:`Answer`."""
        stores = self._stores  # one snapshot for the search and the answer
        k = self.config.answer_passages if k is None else k
        question, _ = clean_question(question, self.config.max_question_chars)  # once, for every stage
        hits = search(question, k, filters, stores=stores, encoder=self.encoder, analyzer=self.analyzer,
                      config=self.config)
        if self.config.place_search:
            hits = placed_search(question, hits, k, filters, stores=stores, encoder=self.encoder,
                                 analyzer=self.analyzer, config=self.config)
        return answer_stream(question, hits, encoder=self.encoder, analyzer=self.analyzer,
                             statistics=stores.lexical, letters=stores.letters.letters, config=self.config, llm=llm)

    def compare(self, question: str, filters: Filters | None = None, letters: int = 20) -> Comparison:
        """One question compared across the letters answering it: a row per letter's support measure (region,
        agency, date, 文号, what, amount or rate, cap, condition, the quoted sentence and its citation), by region
        then date, and how many letters only mention the topic (see :func:`rag.answer.compare.compare`).

        Args:
            question: free text, Chinese or English.
            filters: restrict to a region, an agency, a date range or some letters.
            letters: how many of the best-matching letters to read.

        Raises:
            BadQuery: empty question or ``letters < 1``.
        """
        question, _ = clean_question(question, self.config.max_question_chars)
        return compare_letters(question, filters, letters, stores=self._stores, encoder=self.encoder,
                               analyzer=self.analyzer, config=self.config)

    def add(self, paths: Iterable[str | Path], *, progress: bool = False, on_progress: ProgressFn | None = None,
            replace_all: bool = False, on_ocr_page: OcrProgressFn | None = None, workers: int = 1) -> BuildReport:
        """Add or update letters from files and folders; unchanged letters are not re-embedded.

        A file whose text is already indexed under another name is recorded as a second path of
        that letter. When the index has a directory, the result is saved there atomically.

        Args:
            paths: files or folders.
            progress: show a progress bar (letters, chunks, characters per second, ETA) on stderr.
            on_progress: called with (chunks done, chunks in all) while embedding.
            replace_all: drop every letter not found in ``paths`` (a rebuild).
            on_ocr_page: called with (path, pages read, pages to read) while a scan is read by OCR.
            workers: processes that embed and tokenise (see :meth:`build`).

        Returns:
            The :class:`BuildReport`, also kept as ``index.report``.

        Raises:
            FileNotFoundError: a path does not exist (checked before anything is read or written).
            NothingToIndex: ``paths`` were given but no letter could be read (nothing is changed).
        """
        sources = [str(p) for p in paths]
        return self._add_read(sources, read_sources(sources, self.config, on_ocr_page), progress=progress,
                              on_progress=on_progress, replace_all=replace_all, workers=workers)

    def _add_read(self, sources: list[str], read: tuple[list[Document], list[Skipped]], *, progress: bool,
                  on_progress: ProgressFn | None, replace_all: bool, workers: int = 1) -> BuildReport:
        """:meth:`add` once the files are read: plan, chunk, embed (resuming a killed run), save."""
        started = time.perf_counter()
        documents, skipped = read
        with self._write_lock, self._folder_lock():
            store = self._fresh_stores().letters
            existing = store.metadata  # no letter text is read to plan
            plan = plan_update(existing, documents, replace_all=replace_all, indexed=store.sketches)
            plan, chunked, oversized = chunk_plan(plan, existing, config=self.config, splitter=self._splitter)
            checkpoint = self._checkpoint() if plan.fresh else None
            done = apply_plan(self._stores, plan, config=self.config, encoder=self.encoder, analyzer=self.analyzer,
                              chunked=chunked, progress=progress, on_progress=on_progress, workers=workers,
                              checkpoint=checkpoint)
            self._commit(done.stores, sources if replace_all or not self.sources else [*self.sources, *sources])
            if checkpoint is not None:
                checkpoint.clear()
        self.report = BuildReport.of(done.plan, done.stores, [*skipped, *oversized, *done.skipped],
                                     seconds=time.perf_counter() - started, chars_embedded=done.chars,
                                     notes=done.notes)
        return self.report

    def _checkpoint(self) -> Checkpoint | None:
        """This build's checkpoint in the index folder (``None`` for an index in memory)."""
        if self.directory is None:
            return None
        return Checkpoint.for_build(self.directory, encoder=self.encoder, analyzer=self.analyzer, config=self.config)

    def remove(self, letters: Iterable[str]) -> tuple[str, ...]:
        """Remove letters by id, file path or file name; returns the ids removed.

        Raises:
            KeyError: a name matches no letter (nothing is removed then).
        """
        with self._write_lock, self._folder_lock():
            plan = plan_removal(self._fresh_stores().letters.metadata, list(letters))
            done = apply_plan(self._stores, plan, config=self.config, encoder=self.encoder, analyzer=self.analyzer)
            self._commit(done.stores, self.sources)
        return plan.removed

    def save(self, directory: str | Path | None = None) -> Path:
        """Write the index to ``directory`` (default: its own), atomically."""
        target = Path(directory) if directory is not None else self.directory
        if target is None:
            raise ValueError("no directory given: index.save('index/')")
        with build_lock(target):
            generation = save_snapshot(target, self._stores, config=self.config, encoder=self.encoder,
                                       sources=self.sources)
            if target == self.directory:
                self._switch(generation)
                remove_leftovers(target, keep=generation)
        return target

    def _folder_lock(self) -> AbstractContextManager[None]:
        return build_lock(self.directory) if self.directory is not None else nullcontext()

    def refresh(self) -> bool:
        """Switch to the generation another process committed since this index was loaded or last written.

        Searches already running finish on the stores they started with (whose folder stays until no reader
        holds it). Nothing happens while this index is writing, or when the newer generation cannot be opened
        (this one is kept).

        Returns:
            Whether the index now reads a newer generation.
        """
        if self.directory is None or self._generation is None or not self._write_lock.acquire(blocking=False):
            return False
        try:
            before = self._generation
            self._fresh_stores()
            return self._generation != before
        except IndexFolderError:
            return False
        finally:
            self._write_lock.release()

    def _fresh_stores(self) -> Stores:
        """Our stores, first reloaded if another process has written the folder since (call under the lock)."""
        if self.directory is not None and self._generation is not None:
            changed = reload_if_changed(self.directory, self._generation, self.encoder.dim, self._store_token,
                                        self.config, StoreServer(self.config.milvus_uri, self.config.milvus_token_env,
                                                                 self.config.milvus_timeout))
            if changed is not None:
                self._stores, generation, self.sources, lease = changed
                self._switch(generation, lease)
        return self._stores

    def _switch(self, generation: str, lease: GenerationLease | None = None) -> None:
        """Our stores now read ``generation`` (written by us under the build lock, or leased by a reload)."""
        assert self.directory is not None
        previous = self._lease
        self._generation = generation
        self._lease = lease or GenerationLease.take(self.directory / generation)
        if previous is not None and previous is not self._lease:
            previous.release()

    def _commit(self, stores: Stores, sources: Sequence[str]) -> None:
        """Write ``stores`` as the folder's new generation and read them (call under the build lock)."""
        self.sources = tuple(dict.fromkeys(sources))
        if self.directory is not None:
            generation = save_snapshot(self.directory, stores, config=self.config, encoder=self.encoder,
                                       sources=self.sources)
            self._switch(generation)
            # the generation we read until now goes too, unless another reader holds it: our searches still
            # running on it read files linked into the new one, or mapped, or in memory
            remove_leftovers(self.directory, keep=generation)
        self._stores = stores


__all__ = ["BuildReport", "Index", "NothingToIndex"]
