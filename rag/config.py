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
    # … kept out of the dense index: it holds one vector per chunk, the sentence vectors sit beside it in a
    # memory-mapped float16 file and re-score the dense candidates (rag/stores/dense_rescore.py; README
    # "Dense stores" for the measured trade)
    sentence_rescore: bool = False
    # Stores: the dense backend (a name in rag.stores.DENSE_BACKENDS) and the lexical one (LEXICAL_BACKENDS).
    # "auto": exact (flat) below dense_auto_vectors vectors, IVF from there on (README, "Dense stores").
    dense: str = "auto"
    lexical: str = "bm25s"
    dense_auto_vectors: int = 50_000  # about 10,000 chunks; measured in README "Dense stores"
    # IVF (dense="ivf", or "auto" once large): cells (0: about 4·√N, at most 2,048), cells scanned per query,
    # and how vectors are kept: "flat" (float32), "sq8" (a byte per dimension), "auto" (sq8 from 262,144 vectors)
    ivf_nlist: int = 0
    ivf_nprobe: int = 32
    ivf_codes: str = "auto"
    # With dense="milvus": a server (http://host:19530; None: Milvus Lite in the index folder's milvus.db), the
    # collection (one per index), and the environment variable the CLI and the app read the server's token from.
    milvus_uri: str | None = None
    milvus_collection: str = "policy_rag"
    milvus_token_env: str = "MILVUS_TOKEN"
    # Milvus rows also keep each chunk's text (Milvus's BM25 function, jieba analyzer) and policy-rag's BM25 terms
    # as a sparse vector (a build setting), so that the lexical side can run in Milvus: milvus_search picks
    # "local" (policy-rag's BM25 store and fusion), "bm25" / "sparse" (that Milvus field, policy-rag's fusion) or
    # "bm25+rrf", "bm25+weighted", "sparse+rrf", "sparse+weighted" (Milvus's hybrid_search and ranker).
    # "local" is the default, chosen on dev+extra (README "Milvus").
    milvus_lexical: bool = False
    milvus_search: str = "local"
    # A new collection's vector index: "ivf_flat" (1,024 cells a segment, 32 scanned; float32 rows), "hnsw" (a
    # graph: recall@10 0.81 at 10^5 chunks, whose sentence rows repeat), "ivf_sq8" (a byte per dimension, ~4x less
    # memory), "diskann" (vectors on the query node's disk; servers only) or "flat" (exact, every row read on every
    # query: small collections). "auto": flat on Milvus Lite (a file or Lite's server: small by design), ivf_flat
    # on a Milvus server. Measured in docs/milvus.md.
    milvus_index: str = "auto"
    # The index's search breadth (HNSW ef, IVF nprobe, DiskANN search_list); 0: the index's default, and never
    # below the rows asked for
    milvus_search_width: int = 0
    milvus_timeout: float = 30.0  # seconds any one call to the Milvus server may take (a stalled server: an error)
    # Ingest: every file is bounded before it is parsed, chunked or embedded
    max_file_bytes: int = 20_000_000  # bytes of one file on disk (or upload)
    max_archive_bytes: int = 50_000_000  # bytes a .docx (any zip) or a PDF's content streams may inflate to
    max_archive_entries: int = 2_000  # members of a .docx (any zip) / pages of a PDF
    max_letter_chars: int = 200_000  # characters of text in one letter (a reply letter has a few thousand)
    max_letter_chunks: int = 2_000  # chunks one letter may be split into
    max_ocr_pages: int = 100  # scanned pages (PDF pages without text, TIFF frames) read by OCR in one file
    max_tool_seconds: float = 60.0  # an outside tool reading one file (antiword for .doc)
    max_image_pixels: int = 60_000_000  # pixels of one scanned page or photo (a 600 dpi A4 page is 35 million)
    # elements nested in one HTML page (parsing takes time quadratic in it: 200,000 take minutes; pages nest a few
    # dozen deep, tables in tables a few hundred)
    max_html_depth: int = 1_000
    # Retrieval
    # "weighted" (min-max normalised score sum), "rrf", "dense" (dense only) or "lexical" (BM25 only).
    # weighted beat rrf on the dev sets (MRR@10 en 0.90 vs 0.86, zh 0.98 vs 0.94): `python -m eval.retrieval --ablate`.
    fusion: str = "weighted"
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # weighted fusion: a side's best counts fully only at this strength (rag/retrieve/fusion.py): a cosine for the
    # dense side, a share of the question's ideal BM25 score (Σ weight × idf: each of its terms once) for the
    # lexical side. 0: each side's best counts 1 however weak (plain min-max). About the tenth percentile of each
    # side's best on the real letters' dev questions (English: cosine 0.32, 0.12 of the ideal): only a side weaker
    # than nearly every question's is deflated; no figure of either corpus moves, the tie at scale is broken
    dense_strong: float = 0.35
    lexical_strong: float = 0.12
    k_candidates: int = 100
    # from this many chunks on, the lexical side of a search (question analysis, BM25) runs in a second thread
    # beside the question's encoding and the dense search (rag/retrieve/hybrid.py; 0: always). Below that the
    # threads' turns at the GIL cost more than BM25 takes (README "Dense stores": measured at 10^4 and 10^6)
    lexical_thread_chunks: int = 250_000
    max_question_chars: int = 2000
    # English words the glossary lacks reach the lexical side through CC-CEDICT (rag.glossary.Bridge): each word's
    # Chinese candidates found in the index (at most bridge_candidates, weighted by IDF over their senses) share
    # this weight, against 1 for every question and glossary token. 0 turns the bridge off.
    bridge_weight: float = 0.5
    bridge_candidates: int = 3
    # an English question's word or run of words that spells an indexed Chinese word in toneless pinyin ("Beilun
    # district" → 北仑区, "Yu Yao" → 余姚) is a question token like the glossary's (rag.analyze.spelled_words; the
    # pinyin is kept with the lexical vocabulary)
    pinyin_bridge: bool = True
    # Answering
    # below this evidence confidence the answer abstains; calibrated by `python -m eval.answers --calibrate`
    # together with the sentence-scoring and confidence weights below (change one, recalibrate)
    abstain_threshold: float = 0.5758
    # … and above this share of the question's content words found in no indexed passage (after the glossary
    # and the bridge), whatever the confidence ("the capital of France": 法国 is in no letter); 1.0 turns it off.
    # Calibrated with the threshold on dev+extra+tune: 0.05 above the largest share among their answerable questions.
    max_absent_share: float = 0.55
    # … and when the question names a place (gazetteer: rag/data/places.tsv) that none of the retrieved letters
    # mentions, nor any place inside it ("Guangzhou's canteens" asked of letters from Shanghai)
    place_gate: bool = True
    # … and when the question asks for a kind of answer (an amount, a count of beds, a rate, a date, a duration, a
    # phone number, a department: rag/answer/answer_type.py) that no sentence quoted from the best letter states:
    # the letter about the very project asked about does not give the figure ("phase I's investment")
    answer_kind_gate: bool = True
    # … and (with it) when none of those sentences stating that kind holds this share of the question's term weight:
    # a figure about another project or another rate is no answer (rag/answer/extractive.py, missing_kind_about)
    # (0.35 until the answer5 round; 0.40 declines one more tuned-on question and changes nothing else, 0.45 costs
    # dev + extra an English answer)
    kind_min_overlap: float = 0.40
    # … or of the most any sentence of that letter holds, when less: a question whose own words the letter barely uses
    # ("能打几折" of "持卡用户85折优惠") is not about another project for want of them
    kind_overlap_relative: bool = True
    # English words only the bridge knows also rank an answer's sentences (never its confidence), as the CC-CEDICT
    # renderings the best hit's letter holds (rag/answer/terms.py, grounded_terms), weighted this share of their
    # IDF. English evidence in the answer on the real letters' second dev file 23 → 26 of 30, on the 28 letters' dev
    # 348 → 351 of 384; nothing else moved (`python -m eval.answers --ablate`).
    bridge_terms: bool = True
    bridge_term_share: float = 1.0
    # a sentence's score: dense similarity to the question, plus
    overlap_weight: float = 0.35  # × the (IDF-weighted) share of question terms in the sentence
    field_weight: float = 1.0  # a sentence of the best hit's letter stating the field asked for (contact, 文号…)
    # the proposer asked in any words ("Which CPPCC member wrote…", "是谁提的") and whom the letter is written to are
    # its addressee field (rag/answer/fields.py)
    broad_field_cues: bool = True
    # "When did the bureau send its reply…", "这份复函是哪天发的": the letter's own date is a field too
    letter_date_field: bool = True
    # "Was the proposal adopted, fully or partly?", "采纳了吗": how it was handled is a field too (办理结果:部分采纳)
    result_field: bool = True
    # "What number was the suggestion…", "那个提案是第几号": the number of the proposal answered is a field
    # too (第200号)
    proposal_number_field: bool = True
    # "Which Laiwu district office wrote back…", "这份答复是哪个部门发的": the replying agency is a field too
    agency_field: bool = True
    # "Which district government helped handle the suggestion…", "跟哪些部门一起研究的": the departments the reply was
    # settled with (经商…，现答复如下; 经与…共同研究) are a field too
    consulted_field: bool = True
    # the letter whose field answers is, among the letters asked about, one holding the names the question spells in
    # pinyin ("What number was Qiu Youfu's proposal…": the letter to 仇有福, not another canteen letter's number)
    named_field_letter: bool = True
    # a line stating the field asked for answers the kind asked (a date, a department) and does not lower the
    # confidence: the evidence is judged by the best other sentence (rag/answer/scoring.py)
    field_line_answers: bool = True
    # the letter whose field answers is the one of the best sentence without any field's weight, not the best hit's:
    # "Which office were the comments on the 'students instead of investment' proposal sent to?" is about the letter
    # naming that proposal, though another letter's passage ranked first
    field_letter_by_sentence: bool = True
    # … and when no retrieved passage holds that letter's line stating the field ("田群代表:", its date line), the
    # line is read from the letter as a passage of its own (rag/answer/fields.py, field_line_hit)
    field_line_passages: bool = True
    # a question naming a place is not answered from letters about somewhere else (rag/answer/scoring.placed_hits)
    place_bound_sentences: bool = True
    # a question naming a place none of the retrieved letters mentions is searched again among the letters naming it
    # (rag/searches.py, placed_search)
    place_search: bool = True
    # an English word no glossary or dictionary knows that spells in pinyin a name in a retrieved letter ("Wacaochong",
    # 瓦草冲村) is a question term (rag/answer/pinyin.py)
    pinyin_names: bool = True
    heading_term_share: float = 0.5  # a term only in the passage's heading or letter title counts this much
    continuation_share: float = 0.8  # "例如…/其中…" keeps this share of the previous sentence's overlap
    cue_weight: float = 0.08  # × the share of asked-for kinds of figure (amount, date, count…) it carries
    # a question asking which departments (several) spares a sentence listing two or more the boilerplate penalty
    # ("经与市发展改革委、市财政局共同研究，现答复如下"); on dev+extra+tune a bonus for it too cost an answered question
    spare_listing_sentences: bool = True
    exact_cue_weight: float = 0.25  # … when the question asks for a phone or document number
    rank_bonus: float = 0.05  # ÷ (1 + the passage's rank)
    boilerplate_penalty: float = 0.15  # "收悉", "答复如下", thanks: restate the question, never answer it
    fragment_penalty: float = 0.1  # fewer than fragment_chars Chinese characters and no asked-for figure
    fragment_chars: int = 12
    # evidence confidence = (w_dense·best similarity + w_coverage·letter coverage + w_overlap·best overlap)
    # / (w_dense·full_similarity + w_coverage + w_overlap), clipped to [0, 1]
    confidence_dense_weight: float = 2.0
    confidence_coverage_weight: float = 1.0
    confidence_overlap_weight: float = 0.5
    confidence_full_similarity: float = 0.6
    answer_passages: int = 8  # passages read to compose an answer: index.ask's k, `rag ask --k`, the UI's slider
    max_answer_sentences: int = 4
    answer_keep_ratio: float = 0.75  # quote sentences scoring at least this share of the best one
    # after the best sentence, each next one gains this × the share of the question's term weight it is the first to
    # hold; on dev+extra+tune 0.1 to 0.5 all gave one more English evidence (dev+extra en 93.8 → 95.3%), nothing else
    answer_novelty_weight: float = 0.2
    # a quoted sentence's next one is quoted too when it opens by continuing it ("例如…", "但是…": an example, a
    # reservation; rag/answer/extractive.py, with_continuations)
    quote_continuations: bool = True
    # a question asking several things at once ("能在网上办吗？走哪个平台？") also quotes the sentence of the first
    # quoted letter that answers each part best (rag/answer/clauses.py)
    clause_answers: bool = True
    max_support_items: int = 8
    llm_url: str | None = None  # an OpenAI-compatible endpoint (".../v1") for generative answers
    llm_model: str | None = None
    llm_key_env: str = "OPENAI_API_KEY"  # the environment variable the CLI and the app read the key from
    # a generated sentence keeps its citation only when the cited sentences hold every number it states and
    # at least this share of its content words (rag/answer/grounding.py). Measured on the 119 quotes of the zh
    # dev+extra answers: each own quote supports itself (share 1.0); against the best sentence of another
    # letter's hit, 6.7% pass at 0.3, 2.5% at 0.4, 0.8% at 0.5, 0% at 0.6: 0.5 leaves room for paraphrase
    min_citation_support: float = 0.5
    llm_timeout: float = 60.0  # seconds for the whole reply (connection, every streamed line): then the fallback
    llm_max_reply_chars: int = 6_000  # the model's reply is cut here (800 tokens of Chinese are ~1,600 characters)
    llm_max_response_bytes: int = 2_000_000  # bytes read from the endpoint for one reply (stream framing included)
    # Index folders are data from someone else (people share built indexes): every size read from one is bounded
    max_index_json_bytes: int = 256_000_000  # one JSON file of an index (a manifest, a store's vocabulary) read whole
    max_index_file_bytes: int = 64_000_000_000  # one data file of an index (vectors of 10^6 chunks: about 10 GB)
        # Web app: how many questions run at once, how many one client address may have running, how many may wait
    app_workers: int = 4
    max_asks_per_client: int = 1
    max_queued_events: int = 64
    # … and how many of them a language model writes at once (over all clients): kept below app_workers, so that a
    # slow endpoint never holds every worker; a question beyond it gets the extractive answer at once, with a note
    max_model_asks: int = 3

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

    @classmethod
    def type_problem(cls, data: dict[str, Any]) -> str | None:
        """Why ``data`` (a manifest's ``config``) is not a configuration of this version's types, or None.

        Unknown keys are ignored, as :meth:`from_dict` ignores them.
        """
        for field in fields(cls):
            if field.name not in data:
                continue
            value, default = data[field.name], field.default
            if default is None:
                wanted: tuple[type, ...] = (str, type(None))
            elif isinstance(default, bool):
                wanted = (bool,)
            elif isinstance(default, float):
                wanted = (int, float)
            else:
                wanted = (type(default),)
            if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
                return f"config.{field.name} must be {' or '.join(t.__name__ for t in wanted)}, not " \
                       f"{type(value).__name__}"
        return None

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
            "sentence_rescore": self.sentence_rescore,
            "dense": self.dense,
            "dense_auto_vectors": self.dense_auto_vectors,
            "ivf_nlist": self.ivf_nlist,
            "ivf_nprobe": self.ivf_nprobe,
            "ivf_codes": self.ivf_codes,
            "lexical": self.lexical,
            "milvus_uri": self.milvus_uri,
            "milvus_collection": self.milvus_collection,
            "milvus_lexical": self.milvus_lexical,
            "milvus_index": self.milvus_index,
        }

    def fixed_build_settings(self) -> dict[str, Any]:
        """The build settings a built index cannot change (``ivf_nprobe`` is stored as its default but may change
        per search view: :meth:`rag.Index.with_config`)."""
        return {k: v for k, v in self.build_settings().items() if k != "ivf_nprobe"}

    def search_settings(self) -> dict[str, Any]:
        """Every field that a built index does not fix: retrieval, answering and input limits."""
        build = self.build_settings()
        return {k: v for k, v in self.to_dict().items() if k not in build}
