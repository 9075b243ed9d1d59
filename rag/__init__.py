"""policy-rag: find and quote what Chinese government reply letters (答复函) say.

The pipeline, in the order data flows: :mod:`~rag.ingest` (files → text) → :mod:`~rag.parse` (text → a
letter with metadata and sections) → :mod:`~rag.chunk` (letter → chunks) → :mod:`~rag.embed` and
:mod:`~rag.analyze` (chunks → vectors and tokens) → :mod:`~rag.stores` (letter, dense and lexical stores)
→ :mod:`~rag.retrieve` (question → fused, filtered hits) → :mod:`~rag.answer` (hits → a cited answer).
:class:`Index` runs it; :mod:`rag.cli` and :mod:`rag.ui` are its two programs.
"""

from __future__ import annotations

from .analyze import Analyzer
from .answer import LLM, Answer, Citation, EndpointError, SupportItem, answer, answer_to_dict, format_answer
from .chunk import Chunk, chunk_letter, split_sentences
from .cli_store import load_index, server_args, server_config
from .config import Config
from .embed import Encoder, load_encoder
from .glossary import Glossary
from .index import BuildReport, Index
from .ingest import Document, Skipped, read_document, read_documents
from .parse import CLOSING, PREAMBLE, Letter, Region, Section, parse_letter
from .retrieve.filters import Filters
from .retrieve.hits import Hit
from .retrieve.query import BadQuery
from .stores.disk import IndexFolderError, IndexLoadError, IndexLocked
from .stores.milvus_server import connect as connect_milvus

__all__ = [
    "CLOSING", "LLM", "PREAMBLE", "Analyzer", "Answer", "BadQuery", "BuildReport", "Chunk", "Citation", "Config",
    "Document", "Encoder", "EndpointError", "Filters", "Glossary", "Hit", "Index", "IndexFolderError",
    "IndexLoadError", "IndexLocked", "Letter", "Region", "Section", "Skipped", "SupportItem", "answer",
    "answer_to_dict", "chunk_letter", "connect_milvus", "format_answer", "load_encoder", "load_index",
    "parse_letter", "read_document", "read_documents", "server_args", "server_config", "split_sentences",
]
