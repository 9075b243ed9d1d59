"""One frozen configuration object: chunking, retrieval and answering settings, stored in the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

DEFAULT_MODEL = "use-multilingual-v3"


@dataclass(frozen=True)
class Config:
    """Every tunable of policy-rag in one place.

    Build-time fields (chunking, encoder) are written into the index manifest and must match
    when the index is loaded; search-time fields may be changed freely with :meth:`with_`.

    Example:
        >>> Config().with_(k_candidates=50).k_candidates
        50
    """

    # Encoder: "use-multilingual-v3" (bundled, offline) or a sentence-transformers name/path.
    model: str = DEFAULT_MODEL
    # Chunking
    max_chunk_chars: int = 360
    min_chunk_chars: int = 40
    context_header: bool = True
    chunking: str = "sections"  # "sections" (ours) or "fixed" (baseline: 500/50 character windows)
    fixed_chunk_chars: int = 500
    fixed_overlap: int = 50
    # Dense units: also embed each sentence of a chunk and score the chunk by its best unit.
    sentence_vectors: bool = True
    # Ingest
    max_file_bytes: int = 20_000_000
    # Retrieval
    fusion: str = "rrf"  # "rrf", "weighted", "dense" (dense only) or "lexical" (BM25 only)
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    k_candidates: int = 100
    max_question_chars: int = 2000
    # Answering
    abstain_threshold: float = 0.0
    max_answer_sentences: int = 4

    def with_(self, **changes: Any) -> Config:
        """Return a copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build a config from a manifest's dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def build_settings(self) -> dict[str, Any]:
        """The fields that shape the stored index; a mismatch on load means a rebuild."""
        return {
            "model": self.model,
            "chunking": self.chunking,
            "max_chunk_chars": self.max_chunk_chars,
            "min_chunk_chars": self.min_chunk_chars,
            "fixed_chunk_chars": self.fixed_chunk_chars,
            "fixed_overlap": self.fixed_overlap,
            "context_header": self.context_header,
            "sentence_vectors": self.sentence_vectors,
        }
