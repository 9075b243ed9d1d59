"""policy-rag: find and quote what Chinese government reply letters (答复函) say."""

from __future__ import annotations

from .config import Config
from .embed import Encoder, load_encoder
from .index import BuildReport, Index
from .ingest import Skipped
from .parse import Letter, Section, parse_letter
from .search import BadQuery, Filters, Hit
from .store import IndexFolderError, IndexLoadError, IndexLocked

__all__ = [
    "BadQuery", "BuildReport", "Config", "Encoder", "Filters", "Hit", "Index", "IndexFolderError", "IndexLoadError", "IndexLocked",
    "Letter", "Section", "Skipped", "load_encoder", "parse_letter",
]
