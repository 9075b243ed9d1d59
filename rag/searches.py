"""The Index's searches beyond the plain one: again among the letters naming a place, and across letters."""

from __future__ import annotations

from dataclasses import replace

from .analyze import Analyzer
from .answer.compare import Comparison, compare
from .answer.places import bundled as bundled_places
from .answer.scoring import letter_texts
from .config import Config
from .embed import Encoder
from .retrieve.filters import Filters
from .retrieve.hits import Hit
from .retrieve.hybrid import search
from .stores import Stores

COMPARE_PASSAGES = 4  # passages searched per letter a comparison reads: a letter answers in one or two


def placed_search(question: str, hits: list[Hit], k: int, filters: Filters | None, *, stores: Stores,
                  encoder: Encoder, analyzer: Analyzer, config: Config) -> list[Hit]:
    """``hits``, or when the question names a place none of their letters mentions, the search again among the
    letters that do: "What service station does Putuo run…" whose words matched a drug-list letter best is
    answered from Putuo's letters (or declined by the answer's gates), not declined as about nowhere indexed.
    The letters naming the place are found by its name on the lexical side."""
    gazetteer = bundled_places()
    letters = stores.letters.letters
    missing = gazetteer.missing(question, letter_texts(hits, letters))
    if not missing:
        return hits
    lexical = replace(config, fusion="lexical")
    naming = {h.letter_id for place in missing for h in search(" ".join(place.names), config.k_candidates,
                                                                 filters, stores=stores, encoder=encoder,
                                                                 analyzer=analyzer, config=lexical)
              if h.letter_id in letters and gazetteer.mentioned(place, [letters[h.letter_id].text])}
    if not naming:
        return hits
    within = replace(filters or Filters(), letters=tuple(sorted(naming)))
    return search(question, k, within, stores=stores, encoder=encoder, analyzer=analyzer, config=config) or hits


def compare_letters(question: str, filters: Filters | None, letters: int, *, stores: Stores, encoder: Encoder,
                    analyzer: Analyzer, config: Config) -> Comparison:
    """The comparison of :meth:`rag.Index.compare` for a cleaned ``question``: the ``letters`` best-matching
    letters' passages, read by :func:`rag.answer.compare.compare`."""
    hits = search(question, letters * COMPARE_PASSAGES, filters, stores=stores, encoder=encoder, analyzer=analyzer,
                  config=config)
    wanted = set(list(dict.fromkeys(hit.letter_id for hit in hits))[:letters])
    hits = [hit for hit in hits if hit.letter_id in wanted]
    return compare(question, hits, encoder=encoder, analyzer=analyzer, statistics=stores.lexical,
                   letters=stores.letters.letters, config=config)


__all__ = ["COMPARE_PASSAGES", "compare_letters", "placed_search"]
