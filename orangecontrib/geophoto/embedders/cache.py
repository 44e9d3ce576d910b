"""A persistent embedding cache keyed by image content and model, like Orange's
``EmbedderCache``: re-running a workflow on the same photos is instant.

One SQLite file per model and layer under Orange's cache folder (``GEOPHOTO_CACHE_DIR``
overrides it). SQLite rather than pickle: safe to read, incremental, and safe across
processes.
"""
import hashlib
import logging
import os
import re
import sqlite3
import threading
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)
TOP_STORED = 20  # labels kept per photo; enough for any top-k a user asks


def cache_folder() -> str:
    folder = os.environ.get("GEOPHOTO_CACHE_DIR")
    if not folder:
        from Orange.misc.environ import cache_dir
        folder = os.path.join(cache_dir(), "geophoto-embeddings")
    return folder


def content_key(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class EmbeddingCache:
    """``get(keys)`` / ``put(items)`` of feature vectors and stored top labels.

    ``dim`` and ``classes`` (the model's feature length and number of classes), when given,
    let ``get`` pass over rows this model cannot have written (a damaged or foreign file):
    they count as misses, so those photos are embedded again and their rows replaced."""

    def __init__(self, model_id: str, folder: Optional[str] = None,
                 dim: Optional[int] = None, classes: int = 0):
        self.dim, self.classes = dim, classes
        self._warned = False
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id)[:150]
        self.path = os.path.join(folder or cache_folder(), name + ".sqlite")
        self._lock = threading.Lock()
        self._db = None
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, "
                             "features BLOB, top_index BLOB, top_prob BLOB)")
        except (OSError, sqlite3.Error) as ex:  # a read-only home: work without a cache
            log.warning("embedding cache disabled (%s): %s", self.path, ex)
            self._db = None

    def get(self, keys: Iterable[str]) -> Dict[str, Tuple[np.ndarray, Optional[np.ndarray],
                                                           Optional[np.ndarray]]]:
        keys = list(keys)
        if self._db is None or not keys:
            return {}
        found = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self._db.execute(
                    "SELECT key, features, top_index, top_prob FROM embeddings WHERE key IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for key, *stored in rows:
                    entry = self._decode(*stored)
                    if entry is None:
                        self._warn_damaged()
                    else:
                        found[key] = entry
        return found

    def _decode(self, feats, idx, prob):
        """A stored row as arrays, or None when it is not one this model wrote."""
        try:
            feats = np.frombuffer(feats, np.float32)
            idx = None if idx is None else np.frombuffer(idx, np.int32)
            prob = None if prob is None else np.frombuffer(prob, np.float32)
        except (TypeError, ValueError):  # not bytes, or not whole numbers of them
            return None
        if self.dim is not None and len(feats) != self.dim:
            return None
        if (idx is None) != (prob is None) or (idx is not None and len(idx) != len(prob)):
            return None
        if self.classes and idx is not None and (
                len(idx) != min(TOP_STORED, self.classes)
                or len(idx) and (idx.min() < 0 or idx.max() >= self.classes)):
            return None
        return feats, idx, prob

    def _warn_damaged(self):
        if not self._warned:
            self._warned = True
            log.warning("embedding cache %s has damaged entries; those photos are embedded "
                        "again", self.path)

    def put(self, items) -> None:
        """``items``: iterable of (key, features, top_index or None, top_prob or None)."""
        if self._db is None:
            return
        rows = [(key, np.asarray(f, np.float32).tobytes(),
                 None if i is None else np.asarray(i, np.int32).tobytes(),
                 None if p is None else np.asarray(p, np.float32).tobytes())
                for key, f, i, p in items]
        with self._lock:
            try:
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                                     rows)
                self._db.commit()
            except sqlite3.Error as ex:
                log.warning("embedding cache not written: %s", ex)

    def clear(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.execute("DELETE FROM embeddings")
                self._db.commit()

    def __len__(self):
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
