"""Nearest neighbours by inner product of L2-normalised features (cosine): exact below
``ANN_THRESHOLD`` references, an approximate faiss index above it.

The approximate index is an inverted file (IVF, k-means lists searched ``nprobe`` at a
time) over 8-bit scalar-quantised vectors (SQ8: a quarter of float32's memory), used only to
find candidates: the candidates are re-ranked with the exact similarities from the float32
vectors the kNN locator holds anyway, so the similarities a prediction weights by are exact
and only a missed neighbour can differ from exact search. ``nprobe`` (lists searched) is
tuned when the index is built, from a sixteenth of the lists up until recall@k against
exact search reaches ``recall`` on a sample of the references (each queried for the
others). Why not a flat IVF (another full copy of the vectors), IVF-PQ (64 bytes a vector,
but its coarse distances need far more candidates re-ranked for the same recall) or HNSW (a
graph of 2M links a vector on top of the vectors, and a build many times slower):
bench/ann.md.
"""
import numpy as np

from orangecontrib.geophoto.progress import check_stop, no_progress

ANN_THRESHOLD = 50_000       # references above which the approximate index is used
TARGET_RECALL = 0.97         # recall@k against exact search that nprobe is tuned to
TUNE_QUERIES = 256
EXACT_BATCH = 2048


def exact_neighbours(train: np.ndarray, Q: np.ndarray, k: int):
    """``(similarities, indices)`` of the ``k`` most similar rows of ``train`` for each
    query, best first, by brute force."""
    # at most 1 GiB of similarities at a time (2,048 queries up to 131,072 references)
    batch = max(1, min(EXACT_BATCH, 2**30 // (4 * max(1, len(train)))))
    sims, idx = [], []
    for start in range(0, len(Q), batch):
        S = Q[start:start + batch] @ train.T
        top = np.argpartition(-S, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(S, top, axis=1)
        order = np.argsort(-s, axis=1)
        idx.append(np.take_along_axis(top, order, axis=1))
        sims.append(np.take_along_axis(s, order, axis=1))
    return np.vstack(sims), np.vstack(idx)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row's true neighbours that were found."""
    return float(np.mean([len(np.intersect1d(f, t)) / len(t) for f, t in zip(found, truth)]))


class ApproximateIndex:
    """faiss IVF-SQ8 candidates, re-ranked exactly; pickles (faiss.serialize_index)."""

    def __init__(self, train: np.ndarray, k: int = 10, recall: float = TARGET_RECALL,
                 seed: int = 0, on_progress=None, should_stop=None):
        import faiss
        on_progress = on_progress or no_progress
        n, d = train.shape
        # sqrt(n) lists (faiss suggests 4-16 sqrt(n) for the fastest queries at the cost
        # of a slower build: bench/ann.md), with at least 39 points each to train
        self.nlist = int(max(1, min(np.sqrt(n), n // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, self.nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, min(n, 64 * self.nlist), replace=False))
        index.train(np.ascontiguousarray(train[sample]))
        on_progress(0.4)
        step = 65536
        for start in range(0, n, step):
            check_stop(should_stop)
            index.add(np.ascontiguousarray(train[start:start + step]))
            on_progress(0.4 + 0.4 * min(n, start + step) / n)
        self.index = index
        self.k = k
        self.nprobe, self.recall = self._tune(train, k, recall, rng)
        on_progress(1.0)

    def candidates(self, k: int) -> int:
        """How many candidates the index returns to re-rank for ``k`` neighbours."""
        return max(2 * k, k + 16)

    def _tune(self, train, k, target, rng):
        """The smallest ``nprobe`` from ``nlist / 16`` up, doubling, whose recall@k,
        references queried for the others (each one's own row left out), reaches
        ``target``. The floor is for new photos: a reference's neighbours are often
        near-duplicate views in its own list, so references alone ask for too few lists
        (on Venice crops 2 of 395 lists gave them 0.99 but held-out photos 0.71; 1/16 of
        the lists gave 0.97: bench/ann.md)."""
        import faiss
        k = min(k, len(train) - 1)
        rows = np.sort(rng.choice(len(train), min(len(train), TUNE_QUERIES), replace=False))
        Q = np.ascontiguousarray(train[rows])
        _, truth = faiss.knn(Q, train, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
        truth = [t[t != r][:k] for t, r in zip(truth, rows)]
        nprobe, recall = max(1, self.nlist // 16), 0.0
        while True:
            self.index.nprobe = nprobe
            _, found = self.search(train, Q, k + 1)
            recall = recall_at([f[f != r][:k] for f, r in zip(found, rows)], truth)
            if recall >= target or nprobe >= self.nlist:
                return nprobe, recall
            nprobe = min(2 * nprobe, self.nlist)

    def search(self, train: np.ndarray, Q: np.ndarray, k: int):
        """Like ``exact_neighbours``; queries whose probed lists held fewer than ``k``
        references fall back to exact search."""
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        _, cand = self.index.search(Q, self.candidates(k))
        sims, idx = np.empty((len(Q), k), np.float32), np.empty((len(Q), k), np.int64)
        short = (cand[:, k - 1] < 0) | ~np.isfinite(Q).all(axis=1)
        for start in range(0, len(Q), 256):
            c = cand[start:start + 256]
            s = np.einsum("bd,bkd->bk", Q[start:start + 256], train[np.maximum(c, 0)])
            s[c < 0] = -np.inf
            order = np.argsort(-s, axis=1, kind="stable")[:, :k]
            sims[start:start + 256] = np.take_along_axis(s, order, axis=1)
            idx[start:start + 256] = np.take_along_axis(c, order, axis=1)
        if short.any():
            sims[short], idx[short] = exact_neighbours(train, Q[short], k)
        return sims, idx

    def __getstate__(self):
        import faiss
        state = dict(self.__dict__)
        state["index"] = faiss.serialize_index(self.index)
        return state

    def __setstate__(self, state):
        import faiss
        self.__dict__.update(state)
        self.index = faiss.deserialize_index(np.asarray(state["index"], dtype=np.uint8))
        self.index.nprobe = self.nprobe


def build_index(train: np.ndarray, k: int, threshold=None, on_progress=None,
                should_stop=None):
    """An ``ApproximateIndex`` when there are more than ``threshold`` references (default
    ``ANN_THRESHOLD``), else None: exact search."""
    threshold = ANN_THRESHOLD if threshold is None else threshold
    if len(train) <= threshold:
        return None
    return ApproximateIndex(train, k, on_progress=on_progress, should_stop=should_stop)
