"""The systems under evaluation: our hybrid index, its baselines and its ablations, over the same letters."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import Config, Encoder, Index, load_encoder, load_index, server_config

Log = Callable[[str], None]

MAIN_SYSTEM = "hybrid"
TUTORIAL_CHUNK_CHARS = 500
TUTORIAL_OVERLAP = 50


@dataclass(frozen=True)
class System:
    """A searchable system with a name for the tables.

    Attributes:
        name: short key used in reports (``hybrid``, ``bm25``, ``chunking=fixed`` ...).
        description: one line saying what it is.
        index: the index (or a view of it with other search settings) it searches.
        group: for ablations, the setting varied (``chunking``, ``fusion``, ...); empty otherwise.
        build_seconds: time spent building its own index, ``None`` when it shares one.
    """

    name: str
    description: str
    index: Index
    group: str = ""
    build_seconds: float | None = None


def open_index(directory: str | Path, letters: Sequence[str | Path], *, model: str | None = None,
               encoder: Encoder | None = None, log: Log = print, build: Config | None = None,
               server: argparse.Namespace | None = None) -> Index:
    """Load the index in ``directory``, or build it there from ``letters`` when it holds none.

    Args:
        directory: the index folder.
        letters: files or folders to build from when there is no index yet.
        model: encoder for a new build (default: the bundled one); ignored when loading.
        encoder: an encoder to use instead of loading one (tests pass a fake).
        log: where to say what happened.
        build: settings for a new build (default :class:`Config`'s), e.g. another dense store; when loading,
            an index built otherwise is refused.
        server: the Milvus flags (:func:`rag.cli_store.server_args`: ``--milvus-uri``, ``--milvus-token-env``) of
            an index on a Milvus server, or of a new one built there.

    Raises:
        rag.IndexLoadError: the folder holds an unusable index (or one built otherwise than ``build``).
        FileNotFoundError: a new build was needed but no letters were found.
    """
    directory = Path(directory)
    if (directory / "manifest.json").exists():
        index = (load_index(directory, server, os.environ.get, encoder=encoder, expect=build) if server is not None
                 else Index.load(directory, encoder=encoder, expect=build))
        log(f"index: {directory} ({len(index.letters)} letters, {len(index)} chunks, model {index.config.model})")
        if model is not None and model != index.config.model:
            log(f"  note: this index was built with {index.config.model}; --model {model} is used for the encoder "
                "ablation only (rebuild the index to evaluate it as the main system)")
        return index
    missing = [str(p) for p in letters if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no index in {directory}, and the letters to build it from are missing: "
                                f"{', '.join(missing)} (give --letters DIR)")
    log(f"no index in {directory}: building it from {', '.join(str(p) for p in letters)}")
    config = build or Config()
    config = config.with_(model=model) if model else config
    token = None
    if server is not None and server.milvus_uri and config.dense == "milvus":
        config = server_config(server, config.with_(milvus_uri=server.milvus_uri))
        token = os.environ.get(config.milvus_token_env) or None
    index = Index.build(letters, directory, config=config, encoder=encoder, store_token=token)
    log(f"  {index.report.summary()}")
    if not index.letters:
        raise FileNotFoundError(f"no letters found in {', '.join(str(p) for p in letters)}")
    return index


def letter_files(index: Index) -> list[str]:
    """One existing file per letter of ``index``, to rebuild the same letters with other settings.

    Raises:
        FileNotFoundError: a letter's files are all gone.
    """
    files = []
    for letter in index.letters:
        existing = [p for p in (*letter.paths, letter.path) if p and Path(p).is_file()]
        if not existing:
            raise FileNotFoundError(f"letter {letter.letter_id} is no longer at {letter.path}: cannot rebuild the "
                                    "baselines over the same letters (rebuild the index)")
        files.append(existing[0])
    return files


def rebuild(index: Index, config: Config, encoder: Encoder | None = None) -> tuple[Index, float]:
    """Build the letters of ``index`` again, in memory, with other build settings.

    Returns:
        The new index and the seconds the build took.

    Raises:
        RuntimeError: the files no longer hold the same letters (their text changed).
    """
    started = time.perf_counter()
    other = Index.build(letter_files(index), None, config=config, encoder=encoder or index.encoder,
                        analyzer=index.analyzer)
    seconds = time.perf_counter() - started
    if {letter.sha256 for letter in other.letters} != {letter.sha256 for letter in index.letters}:
        raise RuntimeError("the letter files changed since the index was built: rebuild the index first")
    return other, seconds


def tutorial_config(base: Config) -> Config:
    """The pipeline a LangChain tutorial builds: 500-character chunks, 50 overlap, dense search only."""
    return base.with_(chunking="fixed", fixed_chunk_chars=TUTORIAL_CHUNK_CHARS, fixed_overlap=TUTORIAL_OVERLAP,
                      context_header=False, sentence_vectors=False, fusion="dense")


def ours(index: Index) -> System:
    """Our system: the index as built and configured."""
    return System(MAIN_SYSTEM, f"ours: {_describe(index.config)}", index)


def baselines(index: Index, log: Log = print) -> list[System]:
    """Our hybrid system and the three baselines it is compared against, all over the same letters."""
    log("building the tutorial baseline (fixed 500/50 chunks, dense only) in memory")
    tutorial, seconds = rebuild(index, tutorial_config(index.config))
    return [
        System("bm25", "BM25 only (jieba tokens, glossary expansion), our chunks", index.with_config(fusion="lexical")),
        System("dense", f"dense only ({model_label(index.config.model)}), our chunks",
               index.with_config(fusion="dense")),
        ours(index),
        System("tutorial", f"LangChain tutorial: RecursiveCharacterTextSplitter {TUTORIAL_CHUNK_CHARS}/"
               f"{TUTORIAL_OVERLAP}, dense only, same encoder", tutorial, build_seconds=seconds),
    ]


FUSION_VARIANTS: tuple[dict[str, Any], ...] = (
    dict(fusion="rrf", rrf_k=10, dense_weight=1.0, lexical_weight=1.0),
    dict(fusion="rrf", rrf_k=60, dense_weight=1.0, lexical_weight=1.0),
    dict(fusion="rrf", rrf_k=60, dense_weight=1.0, lexical_weight=2.0),
    dict(fusion="weighted", dense_weight=1.0, lexical_weight=1.0),
    dict(fusion="weighted", dense_weight=2.0, lexical_weight=1.0),
    dict(fusion="weighted", dense_weight=1.0, lexical_weight=2.0),
    dict(fusion="dense"),
    dict(fusion="lexical"),
)


def ablations(index: Index, models: Sequence[str] = (), *, load: Callable[[str], Encoder] = load_encoder,
              log: Log = print) -> list[System]:
    """Variants of our system that change one setting each.

    Args:
        index: our system; every variant starts from its settings.
        models: encoders to compare with the index's own (the bundled one is always included).
        load: loads an encoder by name or path.
        log: progress messages.

    Returns:
        ``ours`` first, then chunking, context header, sentence vectors, fusion, bridge and encoder variants.
    """
    base = index.config
    systems = [System("ours", _describe(base), index, group="ours")]

    def variant(group: str, name: str, config: Config, encoder: Encoder | None = None) -> Index:
        log(f"building ablation {name} in memory")
        built, seconds = rebuild(index, config, encoder)
        systems.append(System(name, _describe(built.config), built, group=group, build_seconds=seconds))
        return built

    if base.chunking == "sections":
        variant("chunking", f"chunking=fixed {base.fixed_chunk_chars}/{base.fixed_overlap}",
                base.with_(chunking="fixed"))
    else:
        variant("chunking", "chunking=sections", base.with_(chunking="sections"))
    variant("context header", f"context_header={'off' if base.context_header else 'on'}",
            base.with_(context_header=not base.context_header))
    for name, config in _sentence_variants(base):
        built = variant("sentence vectors", name, config)
        if config.fusion != "dense":  # the dense side alone is where sentence vectors matter most
            systems.append(System(f"{name}, fusion=dense", _describe(config.with_(fusion="dense")),
                                  built.with_config(fusion="dense"), group="sentence vectors"))
    for settings in FUSION_VARIANTS:
        config = base.with_(**settings)
        if _fusion_label(config) != _fusion_label(base):
            systems.append(System(f"fusion={_fusion_label(config)}", _describe(config),
                                  index.with_config(**settings), group="fusion"))
    if base.fusion == "weighted" and (base.dense_strong or base.lexical_strong):  # each side's best counting 1
        systems.append(System("fusion=weighted, plain min-max", _describe(base.with_(dense_strong=0.0,
                                                                                     lexical_strong=0.0)),
                              index.with_config(dense_strong=0.0, lexical_strong=0.0), group="fusion"))
    systems.extend(_bridge_variants(index))
    for model in dict.fromkeys([Config().model, *models]):
        if model == base.model:
            continue
        log(f"loading encoder {model}")
        variant("encoder", f"encoder={model_label(model)}", base.with_(model=model), load(model))
    return systems


def _bridge_variants(index: Index) -> list[System]:
    """The English→Chinese bridges flipped: CC-CEDICT (on the hybrid system and on BM25 alone), then pinyin."""
    base = index.config
    bridges: list[System] = []
    flipped = 0.0 if base.bridge_weight > 0 else Config().bridge_weight
    bridges.append(System(f"bridge={_bridge_label(flipped)}", _describe(base.with_(bridge_weight=flipped)),
                          index.with_config(bridge_weight=flipped), group="bridge"))
    if base.fusion != "lexical":
        for weight in (base.bridge_weight, flipped):
            config = base.with_(fusion="lexical", bridge_weight=weight)
            bridges.append(System(f"fusion=lexical, bridge={_bridge_label(weight)}", _describe(config),
                                  index.with_config(fusion="lexical", bridge_weight=weight), group="bridge"))
    # the pinyin bridge (an English question's pinyin meets the index's own words), flipped
    flipped_pinyin = base.with_(pinyin_bridge=not base.pinyin_bridge)
    bridges.append(System(f"pinyin_bridge={'on' if flipped_pinyin.pinyin_bridge else 'off'}",
                          _describe(flipped_pinyin), index.with_config(pinyin_bridge=flipped_pinyin.pinyin_bridge),
                          group="bridge"))
    return bridges


def _sentence_variants(base: Config) -> list[tuple[str, Config]]:
    """Sentence vectors flipped; and, when on, kept out of the dense index to re-score its candidates (or back)."""
    variants = [(f"sentence_vectors={'off' if base.sentence_vectors else 'on'}",
                 base.with_(sentence_vectors=not base.sentence_vectors, sentence_rescore=False))]
    if base.sentence_vectors:
        variants.append((f"sentence_rescore={'off' if base.sentence_rescore else 'on'}",
                         base.with_(sentence_rescore=not base.sentence_rescore)))
    return variants


def model_label(model: str) -> str:
    """A short name for a model id or path (``.../all-MiniLM-L6-v2`` → ``all-MiniLM-L6-v2``)."""
    path = Path(model.removeprefix("st:"))
    if path.name in {"model", "models", ""} and path.parent.name:
        return path.parent.name
    return path.name or model


def _fusion_label(config: Config) -> str:
    if config.fusion in ("dense", "lexical"):
        return config.fusion
    weights = "" if config.dense_weight == config.lexical_weight else \
        f", dense×{config.dense_weight:g} lexical×{config.lexical_weight:g}"
    if config.fusion == "rrf":
        return f"rrf k={config.rrf_k}{weights}"
    return f"{config.fusion}{weights or ' 1:1'}"


def _describe(config: Config) -> str:
    chunking = ("section" if config.chunking == "sections"
                else f"fixed {config.fixed_chunk_chars}/{config.fixed_overlap}")
    return (f"{chunking} chunks, header {'on' if config.context_header else 'off'}, sentence vectors "
            f"{_sentences_label(config)}, {_fusion_label(config)}, "
            f"bridge {_bridge_label(config.bridge_weight)}, pinyin bridge {'on' if config.pinyin_bridge else 'off'}, "
            f"{model_label(config.model)}")


def _sentences_label(config: Config) -> str:
    if not config.sentence_vectors:
        return "off"
    return "re-scoring the candidates" if config.sentence_rescore else "on"


def _bridge_label(weight: float) -> str:
    return f"×{weight:g}" if weight > 0 else "off"
