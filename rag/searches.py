"""The Index's searches beyond the plain one: again among the letters naming a place, and across letters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

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
    encoder = _QuestionKept(encoder)  # the search and the sentences' scoring both embed the question
    hits = search(question, letters * COMPARE_PASSAGES, filters, stores=stores, encoder=encoder, analyzer=analyzer,
                  config=config)
    wanted = set(list(dict.fromkeys(hit.letter_id for hit in hits))[:letters])
    hits = [hit for hit in hits if hit.letter_id in wanted]
    return compare(question, hits, encoder=encoder, analyzer=analyzer, statistics=stores.lexical,
                   letters=stores.letters.letters, config=config)


class _QuestionKept:
    """An encoder that embeds each question once: the vectors of the questions asked are kept (one comparison's)."""

    def __init__(self, encoder: Encoder) -> None:
        self.id, self.dim = encoder.id, encoder.dim
        self._encoder = encoder
        self._asked: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._asked]
        if missing:
            self._asked.update(zip(missing, self._encoder.encode_queries(missing), strict=True))
        return np.stack([self._asked[text] for text in texts]) if texts else self._encoder.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._encoder.encode_passages(texts, batch_size)


__all__ = ["COMPARE_PASSAGES", "compare_letters", "placed_search"]
