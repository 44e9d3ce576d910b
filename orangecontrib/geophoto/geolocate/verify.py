"""Verified retrieval: the embedding's nearest training photos, checked by local features.

The embedding finds photos that look alike; whether a neighbour shows the *same place* is
decided by matching local features (OpenCV SIFT as RootSIFT, ratio test) and geometric
checks (RANSAC fundamental matrices and a homography). A fixed inlier threshold is fooled
by repeated facades and misses true views with few inliers, so the decision is learned:
training photos are matched against their neighbours out of fold, where the truth is known,
and gradient-boosted trees learn the probability that a pair shows the same place from the
geometric checks, the embedding's similarity and how the other neighbours agree. The
answer is the median of the neighbours weighted by that probability; a photo is *verified*
when its best neighbour is more likely than not the same place. The number of neighbours
and how sharply the answer leans to the likeliest are chosen by cross-validation inside
the training photos, like everything in ``auto``; a photo whose features cannot be read
keeps the embedding model's answer.

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


# --- matching and the geometric checks ----------------------------------------------------

# Per pair (query, neighbour): what the matcher and the geometric checks found.
MATCHES, INLIERS, STRICT, HOMOGRAPHY, COVER_QUERY, COVER_NEIGHBOUR = range(6)


def pair_stats(query: Local, store: LocalStore, neighbours: Sequence[int]) -> np.ndarray:
    """(len(neighbours), 6) per neighbour: ratio-test matches; inliers of a fundamental
    matrix (USAC, ``RANSAC_PX``), of a stricter one (MAGSAC, 1 px) and of a homography
    (MAGSAC, 4 px); and how many cells of a 4 x 4 grid the inliers cover in the query and
    in the neighbour (wrong matches bunch on one repeated detail). One matrix product
    matches the query against all neighbours."""
    qxy, qd = query
    result = np.zeros((len(neighbours), 6), np.float32)
    if len(qd) < 8 or not len(neighbours):
        return result
    parts = [store[j] for j in neighbours]
    Q = qd.astype(np.float32)
    R = np.vstack([d for _, d in parts]).astype(np.float32)
    if not len(R):
        return result
    S = R @ Q.T                      # RootSIFT is unit length: the largest product is
    qn = (Q * Q).sum(1)              # the nearest; distances only for the two best
    rn = (R * R).sum(1)
    start = 0
    for n, (rxy, rd) in enumerate(parts):
        stop = start + len(rd)
        if len(rd) >= 8:
            block = S[start:stop]    # this neighbour's keypoints x the query's
            best = block.max(0)
            second = np.max(block, axis=0, where=block < best, initial=-np.inf)
            d1 = qn + rn[start:stop].min() - 2 * best  # a lower bound: exact below
            d2 = qn + rn[start:stop].mean() - 2 * second
            ok = np.flatnonzero(d1 < (RATIO ** 2) * d2 + 1e-3)
            if len(ok):
                first = block[:, ok].argmax(0)
                d1 = qn[ok] + rn[start + first] - 2 * best[ok]
                keep = d1 < (RATIO ** 2) * d2[ok]
                ok, first = ok[keep], first[keep]
            result[n, MATCHES] = len(ok)
            if len(ok) >= MIN_MATCHES:
                result[n, 1:] = _geometry(qxy[ok], rxy[first])
        start = stop
    return result


def inliers(query: Local, store: LocalStore, neighbours: Sequence[int]) -> np.ndarray:
    """Inliers of the fundamental matrix between the query and each neighbour."""
    return pair_stats(query, store, neighbours)[:, INLIERS].astype(np.int32)


def _geometry(a: np.ndarray, b: np.ndarray) -> List[float]:
    """[inliers, strict inliers, homography inliers, cover in a, cover in b] of matched
    points; 0 where OpenCV finds the points degenerate (e.g. all on one line)."""
    import cv2
    cv2.setRNGSeed(0)  # the same photos give the same answer every time
    out = [0.0] * 5
    try:
        _, mask = cv2.findFundamentalMat(a, b, cv2.USAC_FAST, RANSAC_PX, 0.999, 2000)
        if mask is not None:
            keep = mask.ravel().astype(bool)
            out[0], out[3], out[4] = keep.sum(), _cover(a[keep]), _cover(b[keep])
        _, mask = cv2.findFundamentalMat(a, b, cv2.USAC_MAGSAC, 1.0, 0.999, 2000)
        out[1] = 0 if mask is None else mask.sum()
        cv2.setRNGSeed(0)
        _, mask = cv2.findHomography(a, b, cv2.USAC_MAGSAC, 4.0, maxIters=2000,
                                     confidence=0.999)
        out[2] = 0 if mask is None else mask.sum()
    except cv2.error:
        pass
    return out


def _cover(xy: np.ndarray) -> int:
    cells = np.clip((xy * (4 / SIDE)).astype(int), 0, 3)
    return len(np.unique(cells[:, 0] * 4 + cells[:, 1]))


def verify_neighbours(queries: Sequence[Local], store: LocalStore, idx: np.ndarray,
                      on_progress=None, should_stop=None) -> np.ndarray:
    """Pair statistics (queries x neighbours x 6) for each query's neighbour indices, on
    all cores: one query per thread, each with a single-threaded matrix product (NumPy and
    OpenCV release the GIL; OpenCV's RANSAC is seeded, so threads give the same answer)."""
    from concurrent.futures import ThreadPoolExecutor
    from threadpoolctl import threadpool_limits
    on_progress = on_progress or no_progress
    stats = np.zeros(idx.shape + (6,), np.float32)
    workers = max(1, min(4, os.cpu_count() or 1))
    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(idx), 8 * workers):
            check_stop(should_stop)
            on_progress(start / max(1, len(idx)))
            rows = range(start, min(len(idx), start + 8 * workers))
            for i, result in zip(rows, pool.map(
                    lambda i: pair_stats(queries[i], store, idx[i]), rows)):
                stats[i] = result
    return stats


# --- which neighbours show the same place ----------------------------------------------------

SAME_PLACE_M = 100.0       # a neighbour within this of the truth shows the same place
SUPPORT_M = 150.0          # neighbours this close to each other support each other
VERIFIED_P = 0.5           # a photo is verified when a neighbour matched in detail (at
VERIFIED_INLIERS = 12      # least this many inliers) more likely than not shows its place
CV_QUERIES = 2000          # training photos matched out of fold to learn and choose
K_GRID = (20, 40, 60)      # neighbours matched per photo
SHARPNESS_GRID = (1, 2, 4, 8)  # how much the answer leans to the likeliest neighbours
MIN_EXAMPLES = 10          # pairs of each kind (same place, not) needed to learn
MATCH_FOLDS = 10           # sampled photos' neighbours come from the other 9/10 of the
#                            training photos: nearly as dense as when predicting


def pair_features(stats: np.ndarray, sims: np.ndarray, points: np.ndarray,
                  fallback: np.ndarray) -> np.ndarray:
    """(n, k, 15) features of each (photo, neighbour) pair: the geometric checks, the
    neighbour's rank and similarity, its distance from the embedding model's answer, and
    how strongly the other neighbours near it verify (a wrong match on a repeated facade
    is usually alone; a true place is seen by several). ``points``: the neighbours'
    positions (n, k, 3) in metres; ``fallback``: the embedding model's answers (n, 3)."""
    n, k = sims.shape
    matches, f_in = stats[..., MATCHES], stats[..., INLIERS]
    near = np.linalg.norm(points[:, :, None] - points[:, None], axis=3) <= SUPPORT_M
    near &= ~np.eye(k, dtype=bool)[None]
    passing = f_in * (f_in >= 10)
    support = (near * passing[:, None, :]).sum(2)
    supporters = (near & (passing > 0)[:, None, :]).sum(2)
    best = f_in.max(1, keepdims=True)
    off = np.linalg.norm(points - fallback[:, None], axis=2)
    return np.stack([
        np.log1p(f_in), np.log1p(stats[..., HOMOGRAPHY]), np.log1p(matches),
        np.log1p(stats[..., STRICT]), stats[..., COVER_QUERY], stats[..., COVER_NEIGHBOUR],
        f_in / np.maximum(matches, 1), np.log1p(np.broadcast_to(np.arange(k), (n, k))),
        sims, sims[:, :1] - sims, np.log1p(off), np.log1p(support), supporters,
        np.log1p(best) - np.log1p(f_in), np.log1p(np.broadcast_to(best, (n, k)))], axis=2)


def _classifier():
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                          max_leaf_nodes=15, min_samples_leaf=40,
                                          early_stopping=False, random_state=0)


class SamePlace:
    """The probability that a neighbour shows the same place as the photo (within
    ``SAME_PLACE_M``), from its pair features: gradient-boosted trees learned on training
    photos matched out of fold, where the truth is known."""

    def __init__(self, features: np.ndarray, same: np.ndarray):
        self.model = _classifier().fit(features.reshape(-1, features.shape[-1]),
                                       same.ravel())

    def __call__(self, features: np.ndarray) -> np.ndarray:
        flat = features.reshape(-1, features.shape[-1])
        return self.model.predict_proba(flat)[:, 1].reshape(features.shape[:-1])


def cross_fitted(features: np.ndarray, same: np.ndarray, groups: int = 5) -> np.ndarray:
    """Same-place probabilities of every pair from models that did not see its photo."""
    p = np.zeros(same.shape)
    group = np.random.default_rng(1).permutation(len(same)) % groups
    for g in range(groups):
        p[group == g] = SamePlace(features[group != g], same[group != g])(features[group == g])
    return p


@dataclass
class Verdict:
    """Per photo: the position, a spread score (metres; larger: less certain), whether a
    neighbour verified, the likeliest neighbour matched in detail (column) and the inliers
    (the verified neighbour's, else the most any neighbour had)."""
    points: np.ndarray
    spread: np.ndarray
    verified: np.ndarray
    best: np.ndarray
    inliers: np.ndarray


def combine(p: np.ndarray, points: np.ndarray, stats: np.ndarray,
            sharpness: float) -> Verdict:
    """The answer: the geometric median of the neighbours' positions weighted by their
    same-place probability to the power ``sharpness``. Even when no neighbour verifies, the
    weak evidence of near misses ranks neighbours better than similarity alone. A photo is
    verified when a neighbour with at least ``VERIFIED_INLIERS`` inliers has a probability
    of at least ``VERIFIED_P``: in a dense area every neighbour is likely near, but only a
    detailed match confirms the place."""
    from orangecontrib.geophoto.geolocate.learners import geometric_median
    w = p ** sharpness + 1e-12
    centre = geometric_median(points, w)
    spread = (w * np.linalg.norm(points - centre[:, None], axis=2)).sum(1) / w.sum(1)
    f_in = stats[..., INLIERS]
    matched = f_in >= VERIFIED_INLIERS
    best = np.where(matched, p, -1.0).argmax(1)
    rows = np.arange(len(p))
    verified = matched[rows, best] & (p[rows, best] >= VERIFIED_P)
    return Verdict(centre, spread, verified, best,
                   np.where(verified, f_in[rows, best], f_in.max(1)))


# --- choosing the settings and applying them ------------------------------------------------

@dataclass
class Choice:
    k: int
    sharpness: float
    same_place: SamePlace
    loss: float              # selection loss of the sampled photos with these settings
    fallback_loss: float     # ... with the embedding model's answers
    scores: dict
    calibration: object      # 68% radius from the spread, of verified answers
    unverified_calibration: object  # ... of the others

    @property
    def wins(self) -> bool:
        return self.loss < self.fallback_loss


def choose(X, lat, lon, store: LocalStore, fallback, folds: int, queries: int = CV_QUERIES,
           on_progress=None, should_stop=None) -> Optional[Choice]:
    """Match a sample of training photos against their embedding neighbours out of fold
    (the neighbours come from the other folds, as in ``auto``), learn which pairs show the
    same place, and pick k and the sharpness with the lowest selection loss on probabilities
    cross-fitted over the sample. ``fallback``: the embedding model's out-of-fold
    predictions. None when too few sampled pairs show (or miss) the same place to learn."""
    from orangecontrib.geophoto.geolocate.learners import (
        Calibration, KNNLocator, R_M, fold_indices, selection_loss, to_unit)
    n = len(lat)
    with_features = np.flatnonzero(np.diff(store.offsets) >= 8)
    if not len(with_features):
        return None
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(with_features, min(len(with_features), queries),
                                replace=False))
    folds = max(folds, min(MATCH_FOLDS, n // 2))
    kmax = min(max(K_GRID), n - max(len(f) for f in fold_indices(n, folds)))
    idx = np.zeros((len(sample), kmax), np.int64)
    sims = np.zeros((len(sample), kmax), np.float32)
    stats = np.zeros((len(sample), kmax, 6), np.float32)
    position = {row: i for i, row in enumerate(sample)}
    done = 0
    for test in fold_indices(n, folds):
        check_stop(should_stop)
        rows = [r for r in test if r in position]
        if not rows:
            continue
        train = np.setdiff1d(np.arange(n), test)
        knn = KNNLocator(kmax).fit(X[train], lat[train], lon[train])
        s, nb = knn.neighbours(X[rows], kmax)
        at = [position[r] for r in rows]
        idx[at], sims[at] = train[nb], s
        stats[at] = verify_neighbours(
            [store[r] for r in rows], store, train[nb],
            lambda f: (on_progress or no_progress)(0.9 * (done + f * len(rows)) / len(sample)),
            should_stop)
        done += len(rows)
    points = to_unit(lat, lon) * R_M
    truth = points[sample]
    fallback_points = to_unit(fallback.latitude[sample], fallback.longitude[sample]) * R_M
    fallback_err = np.linalg.norm(fallback_points - truth, axis=1)
    same = np.linalg.norm(points[idx] - truth[:, None], axis=2) <= SAME_PLACE_M
    if min(same.sum(), (~same).sum()) < MIN_EXAMPLES:
        return None
    best, scores = None, {}
    for k in sorted({min(k, kmax) for k in K_GRID}):
        check_stop(should_stop)
        features = pair_features(stats[:, :k], sims[:, :k], points[idx[:, :k]],
                                 fallback_points)
        p = cross_fitted(features, same[:, :k])
        for sharpness in SHARPNESS_GRID:
            v = combine(p, points[idx[:, :k]], stats[:, :k], sharpness)
            err = np.linalg.norm(v.points - truth, axis=1)
            loss = selection_loss(err)
            scores[f"verified (k={k}, sharpness={sharpness})"] = {
                "mean error (m)": float(err.mean()),
                "median error (m)": float(np.median(err)),
                "verified share": float(v.verified.mean())}
            if best is None or loss < best[0]:
                best = (loss, k, sharpness, features, v, err)
    loss, k, sharpness, features, v, err = best
    (on_progress or no_progress)(0.95)
    ver = v.verified
    return Choice(k, sharpness, SamePlace(features, same[:, :k]), loss,
                  selection_loss(fallback_err), scores,
                  Calibration(v.spread[ver], err[ver]) if ver.sum() >= 5 else None,
                  Calibration(v.spread[~ver], err[~ver]) if (~ver).sum() >= 5 else None)


class Verifier:
    """The verification part of a fitted model: the training photos' local features, the
    embedding neighbours to match, which pairs show the same place, the chosen settings and
    the answers' radius."""

    def __init__(self, choice: Choice, X, lat, lon, store: LocalStore,
                 paths: Sequence[Optional[str]]):
        from orangecontrib.geophoto.geolocate.learners import KNNLocator
        self.k, self.sharpness, self.same_place = choice.k, choice.sharpness, \
            choice.same_place
        self.calibration = choice.calibration
        self.unverified_calibration = choice.unverified_calibration
        self.knn = KNNLocator(self.k).fit(X, lat, lon)
        self.store = store
        known = [p for p in paths if p]
        self.origin = os.path.commonpath([os.path.dirname(p) for p in known]) if known else ""
        self.paths = [os.path.relpath(p, self.origin) if p and self.origin else p
                      for p in paths]

    def params(self) -> dict:
        return {"k": self.k, "sharpness": self.sharpness}

    def apply(self, X, queries: Sequence[Optional[Local]], prediction) -> None:
        """Answer from the matched neighbours for every photo whose local features were
        read (the others keep the embedding model's answer); record whether it verified,
        the matched training photo and its inliers."""
        from orangecontrib.geophoto.geolocate.learners import R_M, from_unit, to_unit
        n = len(queries)
        prediction.verified = np.zeros(n, bool)
        prediction.inliers = np.full(n, np.nan)
        prediction.matched = [None] * n
        prediction.matched_origin = self.origin
        read = np.array([q is not None and len(q[1]) >= 8 for q in queries], bool)
        prediction.inliers[[q is not None for q in queries]] = 0
        if not read.any():
            return
        rows = np.flatnonzero(read)
        sims, idx = self.knn.neighbours(X[rows], self.k)
        stats = verify_neighbours([queries[i] for i in rows], self.store, idx)
        points = self.knn.points[idx]
        fallback = to_unit(prediction.latitude[rows], prediction.longitude[rows]) * R_M
        p = self.same_place(pair_features(stats, sims, points, fallback))
        v = combine(p, points, stats, self.sharpness)
        lat, lon = from_unit(v.points)
        prediction.latitude[rows], prediction.longitude[rows] = lat, lon
        prediction.spread[rows] = v.spread
        for cal, group in ((self.calibration, v.verified),
                           (self.unverified_calibration, ~v.verified)):
            if cal is not None:
                prediction.uncertainty[rows[group]] = cal(v.spread[group])
        prediction.verified[rows] = v.verified
        prediction.inliers[rows] = v.inliers
        matched = idx[np.arange(len(rows)), v.best]
        for j, i in enumerate(rows):
            if v.verified[j]:
                prediction.matched[i] = self.paths[matched[j]]
