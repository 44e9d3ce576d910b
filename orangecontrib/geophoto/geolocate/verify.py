"""Verified retrieval: the embedding's nearest training photos, checked by local features.

The embedding finds photos that look alike; whether a neighbour shows the *same place* is
decided by matching local features (OpenCV SIFT as RootSIFT, ratio test) and a geometric
check (a fundamental matrix by RANSAC): a neighbour that passes with enough inliers is a
view of the same scene, usually metres away. The prediction is taken from the verified
neighbours and falls back to the embedding model when none passes. The number of
neighbours checked, the inlier threshold and how verified neighbours are combined are
chosen by cross-validation inside the training photos, like everything in ``auto``.

Local features are computed once per photo and cached by content (a SQLite store next to
the embedding cache), compactly: at most 1,000 keypoints per photo at 320 px, positions as
float16 and RootSIFT descriptors as uint8.
"""
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from orangecontrib.geophoto.progress import check_stop, no_progress

log = logging.getLogger(__name__)

MAX_KEYPOINTS = 1000
SIDE = 320                 # photos are matched at this longest side
RATIO = 0.8                # Lowe's ratio test
RANSAC_PX = 2.0
MIN_MATCHES = 10           # fewer ratio-test matches cannot reach the lowest threshold
STORE_ID = f"local-rootsift-{MAX_KEYPOINTS}-{SIDE}px"
# How far the verified neighbours chosen by ``combine="cluster"`` may lie from the best one.
CLUSTER_M = 150.0
CV_QUERIES = 300           # training photos verified out of fold when choosing settings
K_GRID = (5, 10, 20)
INLIER_GRID = (10, 12, 15, 20, 30, 50)
COMBINE_GRID = ("best", "median", "cluster")
ALONE_GRID = (0, 30, 60, 120)  # inliers that make an answer trusted without agreement
AGREE_GRID = (500.0, 1000.0)  # ... agreement: within this of the embedding model's answer

Local = Tuple[np.ndarray, np.ndarray]   # keypoint positions (n, 2), RootSIFT (n, 128) uint8
EMPTY: Local = (np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))


# --- extraction and the cache ---------------------------------------------------------

def _sift():
    import cv2
    return cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)


def extract(data: bytes, sift=None) -> Local:
    """RootSIFT keypoints of an encoded photo, at most ``SIDE`` pixels on its longer side;
    ImageError (or Pillow's error) when it cannot be decoded."""
    from orangecontrib.geophoto.images import open_image
    with open_image(data) as im:
        im.draft("L", (SIDE, SIDE))  # JPEG: decode at a reduced scale, much faster
        gray = im.convert("L")
        gray.thumbnail((SIDE, SIDE))
        pixels = np.asarray(gray, dtype=np.uint8)
    keypoints, desc = (sift or _sift()).detectAndCompute(pixels, None)
    if desc is None or not len(keypoints):
        return EMPTY
    if len(keypoints) > MAX_KEYPOINTS:  # SIFT keeps ties at the cut: the strongest only
        keep = np.argsort([-k.response for k in keypoints], kind="stable")[:MAX_KEYPOINTS]
        keypoints, desc = [keypoints[i] for i in keep], desc[keep]
    desc = desc / np.maximum(desc.sum(1, keepdims=True), 1e-7)  # RootSIFT: L1, then sqrt
    desc = np.clip(np.round(np.sqrt(desc) * 512), 0, 255).astype(np.uint8)
    # positions as the cache keeps them, so a photo matches the same whether cached or not
    xy = np.array([k.pt for k in keypoints], np.float16).astype(np.float32)
    return xy, desc


class LocalFeatureCache:
    """Local features by photo content key, in one SQLite file (``GEOPHOTO_CACHE_DIR`` or
    Orange's cache folder). A damaged row counts as a miss and is extracted again."""

    def __init__(self, folder: Optional[str] = None):
        from orangecontrib.geophoto.embedders.cache import cache_folder
        self.path = os.path.join(folder or cache_folder(), STORE_ID + ".sqlite")
        self._lock = threading.Lock()
        self._db = None
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS local (key TEXT PRIMARY KEY, "
                             "xy BLOB, descriptors BLOB)")
        except (OSError, sqlite3.Error) as ex:
            log.warning("local feature cache disabled (%s): %s", self.path, ex)
            self._db = None
        self.hits = 0  # entries read from the store (so tests and benches can see reuse)

    def get(self, keys: Sequence[str]) -> dict:
        found = {}
        if self._db is None:
            return found
        keys = list(keys)
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, xy, descriptors FROM local WHERE key IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for key, xy, desc in rows:
                    try:
                        xy = np.frombuffer(xy, np.float16).reshape(-1, 2).astype(np.float32)
                        desc = np.frombuffer(desc, np.uint8).reshape(-1, 128)
                    except (TypeError, ValueError):
                        continue
                    if len(xy) == len(desc) <= MAX_KEYPOINTS:
                        found[key] = (xy, desc)
        self.hits += len(found)
        return found

    def put(self, items) -> None:
        if self._db is None:
            return
        rows = [(key, xy.astype(np.float16).tobytes(), desc.tobytes()) for key, (xy, desc)
                in items]
        with self._lock:
            try:
                self._db.executemany("INSERT OR REPLACE INTO local VALUES (?, ?, ?)", rows)
                self._db.commit()
            except sqlite3.Error as ex:
                log.warning("local feature cache not written: %s", ex)

    def __len__(self):
        if self._db is None:
            return 0
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM local").fetchone()[0]


def local_features(paths: Sequence[Optional[str]], cache: Optional[LocalFeatureCache] = None,
                   on_progress: Callable[[float], None] = None,
                   should_stop: Callable[[], bool] = None) -> Tuple[List[Local], List[str]]:
    """Per path: local features (EMPTY when the photo cannot be read) and the reason ("" when
    fine). Features come from the cache when the same content was seen before."""
    from orangecontrib.geophoto.embedders.cache import content_key
    from orangecontrib.geophoto.images import ImageError, read_bytes
    on_progress = on_progress or no_progress
    n = len(paths)
    out: List[Local] = [EMPTY] * n
    reasons = [""] * n
    sift = None
    for start in range(0, n, 100):
        check_stop(should_stop)
        blobs = {}
        for i in range(start, min(n, start + 100)):
            try:
                blobs[i] = read_bytes(paths[i])
            except ImageError as ex:
                reasons[i] = str(ex)
        keys = {i: content_key(b) for i, b in blobs.items()}
        known = cache.get(set(keys.values())) if cache is not None else {}
        new = {}
        for i, data in blobs.items():
            if keys[i] in known:
                out[i] = known[keys[i]]
                continue
            sift = sift or _sift()
            try:
                out[i] = new[keys[i]] = extract(data, sift)
            except ImageError as ex:
                reasons[i] = str(ex)
            except Exception as ex:  # Pillow's many decode errors: the row keeps a reason
                reasons[i] = f"cannot be decoded: {ex}"
        if cache is not None and new:
            cache.put(new.items())
        on_progress(min(n, start + 100) / n)
    return out, reasons


class LocalStore:
    """Many photos' local features packed in three arrays (compact to keep and pickle)."""

    def __init__(self, features: Sequence[Local]):
        counts = np.array([len(xy) for xy, _ in features], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.xy = (np.vstack([xy for xy, _ in features]) if len(features)
                   else np.zeros((0, 2))).astype(np.float16)
        self.desc = (np.vstack([d for _, d in features]) if len(features)
                     else np.zeros((0, 128))).astype(np.uint8)

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i) -> Local:
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.xy[a:b].astype(np.float32), self.desc[a:b]

    @property
    def nbytes(self) -> int:
        return self.xy.nbytes + self.desc.nbytes + self.offsets.nbytes


# --- matching and the geometric check -----------------------------------------------------

def inliers(query: Local, store: LocalStore, neighbours: Sequence[int]) -> np.ndarray:
    """Inliers of a fundamental matrix (RANSAC, ``RANSAC_PX``) between the query and each
    neighbour, over ratio-test matches. One matrix product covers all neighbours."""
    import cv2
    qxy, qd = query
    result = np.zeros(len(neighbours), np.int32)
    if len(qd) < 8 or not len(neighbours):
        return result
    parts = [store[j] for j in neighbours]
    Q = qd.astype(np.float32)
    R = np.vstack([d for _, d in parts]).astype(np.float32)
    if not len(R):
        return result
    S = Q @ R.T                      # RootSIFT is unit length: the largest product is
    qn = (Q * Q).sum(1)              # the nearest; distances only for the two best
    rn = (R * R).sum(1)
    rows = np.arange(len(Q))
    start = 0
    for n, (rxy, rd) in enumerate(parts):
        stop = start + len(rd)
        if len(rd) >= 8:
            block = S[:, start:stop]
            first = block.argmax(1)
            best = block[rows, first]
            block[rows, first] = -np.inf
            second = block.max(1)
            d1 = qn + rn[start + first] - 2 * best
            d2 = qn + rn[start:stop].mean() - 2 * second
            ok = d1 < (RATIO ** 2) * d2
            if ok.sum() >= MIN_MATCHES:
                result[n] = _fundamental_inliers(qxy[ok], rxy[first[ok]])
        start = stop
    return result


def _fundamental_inliers(a: np.ndarray, b: np.ndarray) -> int:
    """Inliers of the fundamental matrix RANSAC (OpenCV's USAC) fits to matched points;
    0 when the points are degenerate (e.g. all on one line)."""
    import cv2
    cv2.setRNGSeed(0)  # the same photos give the same answer every time
    try:
        _, mask = cv2.findFundamentalMat(a, b, cv2.USAC_FAST, RANSAC_PX, 0.999, 2000)
    except cv2.error:
        return 0
    return 0 if mask is None else int(mask.sum())


def verify_neighbours(queries: Sequence[Local], store: LocalStore, idx: np.ndarray,
                      on_progress=None, should_stop=None) -> np.ndarray:
    """Inlier counts (queries x neighbours) for each query's neighbour indices."""
    on_progress = on_progress or no_progress
    counts = np.zeros(idx.shape, np.int32)
    for i, (query, row) in enumerate(zip(queries, idx)):
        if i % 10 == 0:
            check_stop(should_stop)
            on_progress(i / max(1, len(idx)))
        counts[i] = inliers(query, store, row)
    return counts


# --- combining verified neighbours ---------------------------------------------------------

@dataclass
class Verdict:
    """Per query: the position from verified neighbours (where ``verified``), the training
    photo that confirmed it, its inliers, and a spread score (smaller: more certain)."""
    verified: np.ndarray
    points: np.ndarray       # (n, 3) metres on the sphere; NaN where not verified
    matched: np.ndarray      # training index of the best verified neighbour, -1 if none
    inliers: np.ndarray      # that neighbour's inliers (the best count even when too few)
    spread: np.ndarray


def combine(idx: np.ndarray, counts: np.ndarray, train_points: np.ndarray, k: int,
            min_inliers: int, how: str, alone: int = 0,
            fallback: Optional[np.ndarray] = None, agree_m: float = 500.0) -> Verdict:
    """Positions from the neighbours among the first ``k`` with at least ``min_inliers``:
    ``best``: the one with most inliers; ``median``: the inlier-weighted geometric median of
    all that pass; ``cluster``: that median over the passing neighbours within
    ``CLUSTER_M`` of each other with the most inliers in total (a wrong match on a repeated
    facade elsewhere, however strong alone, is outvoted by neighbours that agree).

    Against wrong matches on repetitive facades: an answer whose agreeing group has fewer
    than ``alone`` inliers in total and lies over ``agree_m`` from the ``fallback`` answer
    (the embedding model's, points (n, 3)) is not trusted: the photo counts as unverified."""
    from orangecontrib.geophoto.geolocate.learners import geometric_median
    idx, counts = idx[:, :k], counts[:, :k]
    n = len(idx)
    passing = counts >= min_inliers
    verified = passing.any(1)
    best_col = np.argmax(counts, 1)
    best_count = counts[np.arange(n), best_col]
    matched = np.where(verified, idx[np.arange(n), best_col], -1)
    points = np.full((n, 3), np.nan)
    spread = np.full(n, np.nan)
    pts = train_points[idx]
    for i in np.flatnonzero(verified):
        sel = np.flatnonzero(passing[i])
        w = counts[i, sel].astype(float)
        p = pts[i, sel]
        near = np.linalg.norm(p[:, None] - p[None], axis=2) <= CLUSTER_M
        group = near[np.argmax(near @ w)] if how == "cluster" else near[np.argmax(w)]
        if how == "cluster":
            sel, w, p = sel[group], w[group], p[group]
            top = sel[np.argmax(w)]
            matched[i], best_count[i] = idx[i, top], counts[i, top]
        if how == "best" or len(sel) == 1:
            points[i] = p[np.argmax(w)]
        else:
            points[i] = geometric_median(p[None], w[None])[0]
        support = counts[i, np.flatnonzero(passing[i])[group]].sum() if how != "cluster" \
            else w.sum()
        if support < alone and fallback is not None \
                and np.linalg.norm(points[i] - fallback[i]) > agree_m:
            verified[i], matched[i], points[i] = False, -1, np.nan
            continue
        spread[i] = 1000.0 / w.sum()
    return Verdict(verified, points, matched, best_count, spread)


# --- choosing the settings and applying them ------------------------------------------------

@dataclass
class Choice:
    k: int
    min_inliers: int
    how: str
    alone: int
    agree_m: float
    loss: float              # selection loss on the verified sample with these settings
    fallback_loss: float     # ... and without verification
    scores: dict
    calibration: object      # 68% radius of verified answers, from their spread
    fallback_calibration: object  # ... of the answers that did not verify

    @property
    def wins(self) -> bool:
        return self.loss < self.fallback_loss


def choose(X, lat, lon, store: LocalStore, fallback, folds: int, queries: int = CV_QUERIES,
           on_progress=None, should_stop=None) -> Optional[Choice]:
    """Verify a sample of training photos out of fold (their neighbours come from the other
    folds, as in ``auto``) and pick k, the inlier threshold and the combination with the
    lowest selection loss; ``fallback``: the out-of-fold predictions of the embedding model
    that answers when nothing verifies. None when no sampled photo has features."""
    from orangecontrib.geophoto.geolocate.learners import (
        Calibration, KNNLocator, R_M, fold_indices, from_unit, selection_loss, to_unit)
    from orangecontrib.geophoto.geolocate.metrics import haversine_km
    n = len(lat)
    sample = np.sort(np.random.default_rng(0).choice(n, min(n, queries), replace=False))
    has_features = np.diff(store.offsets)[sample] >= 8
    if not has_features.any():
        return None
    kmax = max(K_GRID)
    idx = np.zeros((len(sample), kmax), np.int64)
    counts = np.zeros((len(sample), kmax), np.int32)
    position = {row: i for i, row in enumerate(sample)}
    done = 0
    for test in fold_indices(n, folds):
        check_stop(should_stop)
        train = np.setdiff1d(np.arange(n), test)
        rows = [r for r in test if r in position]
        if not rows:
            continue
        knn = KNNLocator(kmax).fit(X[train], lat[train], lon[train])
        _, nb = knn.neighbours(X[rows], kmax)
        nb = train[nb]
        at = [position[r] for r in rows]
        width = nb.shape[1]
        idx[at, :width] = nb
        counts[at, :width] = verify_neighbours(
            [store[r] for r in rows], store, nb,
            lambda f: (on_progress or no_progress)((done + f * len(rows)) / len(sample)),
            should_stop)
        done += len(rows)
    points = to_unit(lat, lon) * R_M
    flat, flon = fallback.latitude[sample], fallback.longitude[sample]
    truth_lat, truth_lon = lat[sample], lon[sample]
    fallback_err = haversine_km(truth_lat, truth_lon, flat, flon) * 1000
    base = selection_loss(fallback_err)
    fallback_points = to_unit(flat, flon) * R_M
    best, scores = None, {}
    grid = [(k, t, how, a, m) for k in K_GRID for t in INLIER_GRID for how in COMBINE_GRID
            for a in ALONE_GRID for m in AGREE_GRID
            if a == 0 and m == AGREE_GRID[0] or a > t]
    for k, t, how, alone, agree in grid:
        v = combine(idx, counts, points, k, t, how, alone, fallback_points, agree)
        err = fallback_err.copy()
        if v.verified.any():
            vlat, vlon = from_unit(v.points[v.verified])
            err[v.verified] = haversine_km(truth_lat[v.verified],
                                           truth_lon[v.verified], vlat, vlon) * 1000
        loss = selection_loss(err)
        scores[f"verified (k={k}, min inliers={t}, combine={how}, "
               f"alone={alone}, agree={agree:.0f} m)"] = {
            "mean error (m)": float(err.mean()),
            "median error (m)": float(np.median(err)),
            "verified share": float(v.verified.mean())}
        if best is None or loss < best[0]:
            best = (loss, k, t, how, alone, agree, v, err)
    loss, k, t, how, alone, agree, v, err = best
    ver = v.verified
    calibration = Calibration(v.spread[ver], err[ver]) if ver.sum() >= 5 else None
    fallback_cal = Calibration(fallback.spread[sample][~ver], err[~ver]) \
        if (~ver).sum() >= 5 else None
    return Choice(k, t, how, alone, agree, loss, base, scores, calibration, fallback_cal)


class Verifier:
    """The verification part of a fitted model: the training photos' local features, the
    embedding neighbours to check, the chosen settings and the verified answers' radius."""

    def __init__(self, choice: Choice, X, lat, lon, store: LocalStore,
                 paths: Sequence[Optional[str]]):
        from orangecontrib.geophoto.geolocate.learners import KNNLocator
        self.k, self.min_inliers, self.how = choice.k, choice.min_inliers, choice.how
        self.alone, self.agree_m = choice.alone, choice.agree_m
        self.calibration = choice.calibration
        self.knn = KNNLocator(self.k).fit(X, lat, lon)
        self.store = store
        known = [p for p in paths if p]
        self.origin = os.path.commonpath([os.path.dirname(p) for p in known]) if known else ""
        self.paths = [os.path.relpath(p, self.origin) if p and self.origin else p
                      for p in paths]

    def params(self) -> dict:
        return {"k": self.k, "min inliers": self.min_inliers, "combine": self.how,
                "alone": self.alone, "agree (m)": self.agree_m}

    def apply(self, X, queries: Sequence[Optional[Local]], prediction) -> None:
        """Replace the answers of photos whose neighbours verify; record for every photo
        whether it verified, the matched training photo and the inliers."""
        from orangecontrib.geophoto.geolocate.learners import R_M, from_unit, to_unit
        _, idx = self.knn.neighbours(X, self.k)
        counts = np.zeros(idx.shape, np.int32)
        for i, query in enumerate(queries):
            if query is not None:
                counts[i] = inliers(query, self.store, idx[i])
        v = combine(idx, counts, self.knn.points, self.k, self.min_inliers, self.how,
                    self.alone, to_unit(prediction.latitude, prediction.longitude) * R_M,
                    self.agree_m)
        ver = v.verified
        if ver.any():
            lat, lon = from_unit(v.points[ver])
            prediction.latitude[ver], prediction.longitude[ver] = lat, lon
            prediction.spread[ver] = v.spread[ver]
            if self.calibration is not None:
                prediction.uncertainty[ver] = self.calibration(v.spread[ver])
        prediction.verified = ver
        prediction.inliers = np.where([q is not None for q in queries], v.inliers, np.nan)
        prediction.matched = [self.paths[m] if m >= 0 else None for m in v.matched]
        prediction.matched_origin = self.origin
