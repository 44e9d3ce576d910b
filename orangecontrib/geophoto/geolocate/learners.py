"""Where was a photo taken? Learners from geotagged photos' features (no Qt).

- ``knn``: cosine retrieval over centred, L2-normalised features (exact, or a faiss index
  above 50,000 photos: ann.py); the prediction is the
  weighted geometric median of the k nearest photos' positions (weights exp(sim/T)). When
  near-duplicate views agree on a spot, the median lands exactly on it; when they scatter,
  it lands where the expected error is smallest.
- ``cells``: adaptive S2 partitions (coarse, middle, fine), a logistic-regression classifier
  per partition on PCA-reduced features, combined hierarchically (a fine cell's probability
  times its ancestors'); the point is the probability-weighted mean of the best cells'
  photo centroids.
- ``regression``: ridge regression of positions on a local tangent plane (small regions).
- ``knn+cells``: the neighbours' weights times their cells' probabilities (to a power).
- ``verified``: the embedding's nearest training photos checked by local features and
  geometric tests (``verify.py``); a model learned out of fold says how likely each
  neighbour shows the same place, and the answer leans to the likeliest ones.
- ``auto``: chooses among these and their settings by k-fold cross-validation inside the
  training rows only (``verified`` when the training photos can be read and it wins).

Every model gives a 68% uncertainty radius, calibrated on held-out training folds: out-of-fold
errors are binned by the model's own spread score and the 68th percentile of each bin is
interpolated.
"""
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from orangecontrib.geophoto.geolocate.ann import build_index, exact_neighbours
from orangecontrib.geophoto.geolocate.metrics import EARTH_RADIUS_KM, haversine_km
from orangecontrib.geophoto.progress import check_stop, no_progress, scaled

METHODS = ("auto", "cells", "knn", "regression", "knn+cells", "verified")
R_M = EARTH_RADIUS_KM * 1000


def to_unit(lat, lon) -> np.ndarray:
    lat, lon = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def from_unit(v: np.ndarray):
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    latitude = np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))
    return latitude, np.degrees(np.arctan2(v[..., 1], v[..., 0]))


def geometric_median(points: np.ndarray, weights: np.ndarray, iterations: int = 60):
    """Weighted geometric median of 3-D points (metres on the sphere, batched:
    points (n, k, 3), weights (n, k)) by Weiszfeld's iterations."""
    w = weights / weights.sum(axis=1, keepdims=True)
    x = (w[..., None] * points).sum(axis=1)
    for _ in range(iterations):
        d = np.linalg.norm(points - x[:, None, :], axis=2)
        # a point on top of the estimate: stop moving it (Weiszfeld's singularity)
        inv = w / np.maximum(d, 1e-3)
        new = (inv[..., None] * points).sum(axis=1) / inv.sum(axis=1, keepdims=True)
        if np.abs(new - x).max() < 0.01:
            x = new
            break
        x = new
    return x


@dataclass
class Prediction:
    latitude: np.ndarray
    longitude: np.ndarray
    spread: np.ndarray                 # the model's own scatter score, metres
    cell: List[str]
    candidates: Optional[List[List[Tuple[float, float, float]]]] = None  # lat, lon, prob
    uncertainty: Optional[np.ndarray] = None
    verified: Optional[np.ndarray] = None   # verified retrieval: per photo, yes/no
    inliers: Optional[np.ndarray] = None    # ... the best neighbour's inliers
    matched: Optional[List[Optional[str]]] = None  # ... the training photo that verified
    matched_origin: str = ""


class Features:
    """Centring and L2 normalisation learned on the training rows."""

    def __init__(self, X: np.ndarray):
        self.mean = np.nanmean(X, axis=0)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        Z = X - self.mean
        return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)

    def float32(self, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """``self(X)`` as float32, a chunk of rows at a time: a million rows' float64
        temporaries would take several times the result's memory."""
        out = np.empty(X.shape, np.float32)
        for start in range(0, len(X), chunk):
            out[start:start + chunk] = self(X[start:start + chunk])
        return out


class Locator:
    """Base: fit on (features, lat, lon), predict positions and a spread score."""
    name = "base"

    def fit(self, X, lat, lon, on_progress=None, should_stop=None):
        raise NotImplementedError

    def predict(self, X, top=0) -> Prediction:
        raise NotImplementedError

    def params(self) -> dict:
        return {}


class KNNLocator(Locator):
    name = "knn"

    def __init__(self, k: int = 10, temperature: float = 0.05, ann_threshold=None):
        """``ann_threshold``: above this many training photos the neighbours are searched
        in an approximate index (geolocate/ann.py); None: ``ann.ANN_THRESHOLD``."""
        self.k, self.temperature, self.ann_threshold = k, temperature, ann_threshold

    def params(self):
        return {"k": self.k, "temperature": self.temperature}

    def fit(self, X, lat, lon, on_progress=None, should_stop=None):
        self.features = Features(X)
        self.train = self.features.float32(X)
        self.lat, self.lon = np.asarray(lat, float), np.asarray(lon, float)
        self.points = to_unit(self.lat, self.lon) * R_M
        self.index = build_index(self.train, self.k, self.ann_threshold, on_progress,
                                 should_stop)
        return self

    def neighbours(self, X, k):
        Q = self.features(X).astype(np.float32)
        k = min(k, len(self.train))
        index = getattr(self, "index", None)  # none in models pickled by older versions
        if index is not None:
            return index.search(self.train, Q, k)
        return exact_neighbours(self.train, Q, k)

    def predict(self, X, top=0) -> Prediction:
        sims, idx = self.neighbours(X, self.k)
        return self.predict_from_neighbours(sims, idx, top)

    def predict_from_neighbours(self, sims, idx, top=0, prior=None) -> Prediction:
        """``prior``: per-neighbour factors multiplied into the weights (the combined
        method's cell probabilities)."""
        sims, idx = sims[:, :self.k], idx[:, :self.k]
        w = np.exp((sims - sims[:, :1]) / self.temperature)
        if prior is not None:
            w = w * prior[:, :self.k]
        pts = self.points[idx]
        centre = geometric_median(pts, w)
        lat, lon = from_unit(centre)
        spread = (w * np.linalg.norm(pts - centre[:, None], axis=2)).sum(1) / w.sum(1)
        candidates = None
        if top:
            wn = w / w.sum(1, keepdims=True)
            candidates = [[(self.lat[j], self.lon[j], float(p))
                           for j, p in zip(row_i[:top], row_w[:top])]
                          for row_i, row_w in zip(idx, wn)]
        return Prediction(lat, lon, spread, [""] * len(lat), candidates)


class CellLocator(Locator):
    name = "cells"

    def __init__(self, partitions=(8, 32, 128), components: int = 128, C: float = 1.0):
        self.partitions, self.components, self.C = partitions, components, C

    def params(self):
        return {"partitions": self.partitions, "components": self.components, "C": self.C}

    def fit(self, X, lat, lon, on_progress=None, should_stop=None):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from orangecontrib.geophoto.geolocate.cells import adaptive_partition, leaf_ids
        on_progress = on_progress or no_progress
        self.features = Features(X)
        Z = self.features(X)
        self.pca = PCA(min(self.components, Z.shape[1], len(Z) - 1), random_state=0).fit(Z)
        Z = self.pca.transform(Z)
        leaves = leaf_ids(lat, lon)
        n = len(lat)
        self.levels = []
        for i, divisor in enumerate(self.partitions):
            check_stop(should_stop)
            t_max = max(2, n // divisor)
            partition = adaptive_partition(leaves, t_max, max(1, t_max // 10))
            ok = partition.labels >= 0
            if len(np.unique(partition.labels[ok])) < 2:
                continue
            with warnings.catch_warnings():
                # on a few dozen photos the finest partition has nearly a cell per photo,
                # by design; scikit-learn would warn that the target looks continuous
                warnings.filterwarnings("ignore", message="The number of unique classes")
                clf = LogisticRegression(C=self.C, max_iter=300).fit(Z[ok],
                                                                     partition.labels[ok])
            centroids = np.array([to_unit(lat[partition.labels == c],
                                          lon[partition.labels == c]).mean(0) * R_M
                                  for c in range(len(partition.cells))])
            self.levels.append((partition, clf, centroids))
            on_progress((i + 1) / len(self.partitions))
        if not self.levels:
            raise ValueError("too few photos or places for the cell partition")
        fine = self.levels[-1][0]
        self.relations = [nesting(fine, partition) for partition, _, _ in self.levels[:-1]]
        return self

    def probabilities(self, X):
        """Hierarchical probabilities of the finest partition's cells: each fine cell's
        probability times the probabilities of the coarser cells containing it."""
        Z = self.pca.transform(self.features(X))
        fine_partition, fine_clf, centroids = self.levels[-1]
        probs = np.zeros((len(Z), len(fine_partition.cells)))
        probs[:, fine_clf.classes_] = fine_clf.predict_proba(Z)
        for (partition, clf, _), related in zip(self.levels[:-1], self.relations):
            coarse = np.zeros((len(Z), len(partition.cells)))
            coarse[:, clf.classes_] = clf.predict_proba(Z)
            probs *= np.maximum(coarse @ related.T, 1e-12)
        probs /= np.maximum(probs.sum(1, keepdims=True), 1e-300)
        return probs, fine_partition, centroids

    def predict(self, X, top=0) -> Prediction:
        from orangecontrib.geophoto.geolocate.cells import token
        probs, partition, centroids = self.probabilities(X)
        best = np.argsort(-probs, axis=1)[:, :5]
        centre = probs @ centroids  # probability-weighted over every cell
        lat, lon = from_unit(centre)
        spread = (probs * np.linalg.norm(centroids[None] - centre[:, None], axis=2)).sum(1)
        cells = [token(partition.cells[b[0]]) for b in best]
        candidates = None
        if top:
            clat, clon = from_unit(centroids)
            candidates = [[(clat[j], clon[j], float(probs[i, j])) for j in best[i, :top]]
                          for i in range(len(best))]
        return Prediction(lat, lon, spread, cells, candidates)


def nesting(fine, coarse) -> np.ndarray:
    """(fine cells x coarse cells) 1 where one cell contains the other: a fine cell's
    parent, or, where the coarse partition went deeper, the coarse cells inside it."""
    from orangecontrib.geophoto.geolocate.cells import parent_ids
    related = np.zeros((len(fine.cells), len(coarse.cells)))
    for i, (f, lf) in enumerate(zip(fine.cells, fine.levels)):
        for j, (c, lc) in enumerate(zip(coarse.cells, coarse.levels)):
            if lc <= lf:
                related[i, j] = parent_ids(np.array([f], np.uint64), int(lc))[0] == c
            else:
                related[i, j] = parent_ids(np.array([c], np.uint64), int(lf))[0] == f
    return related


class RegressionLocator(Locator):
    name = "regression"

    def __init__(self, alpha: float = 10.0):
        self.alpha = alpha

    def params(self):
        return {"alpha": self.alpha}

    def fit(self, X, lat, lon, on_progress=None, should_stop=None):
        from sklearn.linear_model import Ridge
        self.features = Features(X)
        self.lat0, self.lon0 = float(np.mean(lat)), float(np.mean(lon))
        xy = self._plane(lat, lon)
        self.model = Ridge(alpha=self.alpha).fit(self.features(X), xy)
        self.residual = float(np.sqrt(((self.model.predict(self.features(X)) - xy) ** 2)
                                      .sum(1)).mean())
        return self

    def _plane(self, lat, lon):
        k = math.cos(math.radians(self.lat0))
        return np.column_stack([np.radians(np.asarray(lon) - self.lon0) * R_M * k,
                                np.radians(np.asarray(lat) - self.lat0) * R_M])

    def predict(self, X, top=0) -> Prediction:
        xy = self.model.predict(self.features(X))
        k = math.cos(math.radians(self.lat0))
        lat = self.lat0 + np.degrees(xy[:, 1] / R_M)
        lon = self.lon0 + np.degrees(xy[:, 0] / (R_M * k))
        return Prediction(lat, lon, np.full(len(lat), self.residual), [""] * len(lat))


class CombinedLocator(Locator):
    """Nearest neighbours weighted also by the cells classifier: each neighbour's weight
    is exp(sim/T) times its cell's probability to the power ``beta``. Retrieval finds the
    exact spot of near-duplicates; the cells' view of the whole training set discounts
    neighbours from unlikely parts of the map."""
    name = "knn+cells"

    def __init__(self, k: int = 20, temperature: float = 0.05, beta: float = 0.5,
                 ann_threshold=None):
        self.k, self.temperature, self.beta = k, temperature, beta
        self.ann_threshold = ann_threshold

    def params(self):
        return {"k": self.k, "temperature": self.temperature, "beta": self.beta}

    def fit(self, X, lat, lon, on_progress=None, should_stop=None):
        self.knn = KNNLocator(self.k, self.temperature,
                              self.ann_threshold).fit(X, lat, lon)
        self.cells = CellLocator().fit(X, lat, lon, on_progress, should_stop)
        return self

    def prior(self, X, idx):
        probs, partition, _ = self.cells.probabilities(X)
        labels = partition.labels[idx]
        cell_p = np.take_along_axis(probs, np.maximum(labels, 0), axis=1)
        return np.where(labels >= 0, cell_p, 1e-3) ** self.beta

    def predict(self, X, top=0) -> Prediction:
        sims, idx = self.knn.neighbours(X, self.k)
        prediction = self.knn.predict_from_neighbours(sims, idx, top, self.prior(X, idx))
        prediction.cell = self.cells.predict(X).cell
        return prediction


def make_locator(method: str, **params) -> Locator:
    return {"knn": KNNLocator, "cells": CellLocator, "regression": RegressionLocator,
            "knn+cells": CombinedLocator}[method](**params)


KNN_GRID = [{"k": k, "temperature": t} for k in (1, 5, 10, 20, 40) for t in (0.02, 0.05, 0.1)]
AUTO_CANDIDATES = ([("knn", p) for p in KNN_GRID]
                   + [("knn+cells", {**p, "beta": 0.5}) for p in KNN_GRID if p["k"] > 1]
                   + [("cells", {}), ("regression", {})])


def fold_indices(n: int, folds: int, seed: int = 0) -> List[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), folds)


def out_of_fold(method, params, X, lat, lon, folds, should_stop=None) -> Prediction:
    """Predictions for every training row from models that did not see it."""
    n = len(lat)
    plat, plon, spread = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for test in fold_indices(n, folds):
        check_stop(should_stop)
        train = np.setdiff1d(np.arange(n), test)
        model = make_locator(method, **params).fit(X[train], lat[train], lon[train])
        p = model.predict(X[test])
        plat[test], plon[test], spread[test] = p.latitude, p.longitude, p.spread
    return Prediction(plat, plon, spread, [""] * n)


def _neighbour_grid_out_of_fold(X, lat, lon, folds, should_stop, with_cells=True):
    """All kNN and knn+cells settings share one neighbour search and one cells model per
    fold."""
    grid = [c for c in AUTO_CANDIDATES if c[0] in ("knn", "knn+cells")
            and (with_cells or c[0] == "knn")]
    n = len(lat)
    results = [[np.full(n, np.nan) for _ in range(3)] for _ in grid]
    kmax = max(p["k"] for _, p in grid)
    for test in fold_indices(n, folds):
        check_stop(should_stop)
        train = np.setdiff1d(np.arange(n), test)
        base = CombinedLocator(kmax, beta=1.0)
        base.knn = KNNLocator(kmax).fit(X[train], lat[train], lon[train])
        sims, idx = base.knn.neighbours(X[test], kmax)
        cell_prior = None
        if with_cells:
            try:
                base.cells = CellLocator().fit(X[train], lat[train], lon[train])
                cell_prior = base.prior(X[test], idx)
            except ValueError:  # too few photos for a partition: kNN settings only
                pass
        for (name, params), arrays in zip(grid, results):
            if name == "knn+cells" and cell_prior is None:
                continue
            base.knn.k, base.knn.temperature = params["k"], params["temperature"]
            prior = cell_prior ** params["beta"] if name == "knn+cells" else None
            p = base.knn.predict_from_neighbours(sims, idx, prior=prior)
            for arr, values in zip(arrays, (p.latitude, p.longitude, p.spread)):
                arr[test] = values
    return [((name, params), Prediction(*arrays, [""] * n))
            for (name, params), arrays in zip(grid, results)
            if np.isfinite(arrays[0]).all()]


class Calibration:
    """68% radius as a function of the model's spread score, from out-of-fold errors."""

    def __init__(self, spread: np.ndarray, errors_m: np.ndarray, bins: int = 8,
                 level: float = 0.68):
        ok = np.isfinite(spread) & np.isfinite(errors_m)
        spread, errors_m = spread[ok], errors_m[ok]
        edges = np.unique(np.quantile(spread, np.linspace(0, 1, bins + 1)))
        centres, radii = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = (spread >= lo) & (spread <= hi)
            if inside.sum() >= 5:
                centres.append(np.median(spread[inside]))
                radii.append(np.quantile(errors_m[inside], level))
        if not centres:
            centres, radii = [0.0], [float(np.quantile(errors_m, level))]
        self.centres = np.array(centres)
        self.radii = np.maximum.accumulate(np.array(radii))  # more spread, no smaller radius

    def __call__(self, spread: np.ndarray) -> np.ndarray:
        return np.interp(spread, self.centres, self.radii)


@dataclass
class GeoModel:
    """A fitted locator with its calibration; pickles for Save Model / Load Model."""
    locator: Locator
    calibration: Calibration
    feature_names: List[str]
    method: str
    params: dict
    cv_scores: Dict[str, dict] = field(default_factory=dict)
    verifier: Optional[object] = None       # verify.Verifier of the ``verified`` method

    def predict(self, X: np.ndarray, top: int = 0, local=None) -> Prediction:
        """``local``: the photos' local features (``verify.local_features``; None per photo
        that could not be read), for a model that verifies."""
        if X.shape[1] != len(self.feature_names):
            raise ValueError(f"the photos have {X.shape[1]} features, the model was trained "
                             f"on {len(self.feature_names)}")
        prediction = self.locator.predict(X, top)
        prediction.uncertainty = self.calibration(prediction.spread)
        if self.verifier is not None:
            self.verifier.apply(X, local if local is not None else [None] * len(X),
                                prediction)
        return prediction


def fit_geolocator(X: np.ndarray, lat: np.ndarray, lon: np.ndarray, feature_names,
                   method: str = "auto", folds: int = 3,
                   on_progress: Callable[[float], None] = None,
                   should_stop: Callable[[], bool] = None, local=None, paths=None,
                   **params) -> GeoModel:
    """Fit ``method``; ``auto`` picks the method and settings with the lowest mean
    cross-validated error inside these rows. Every method is calibrated out of fold.
    ``local`` (a ``verify.LocalStore`` of these rows' photos) and their ``paths`` enable
    ``verified``, and let ``auto`` choose it."""
    on_progress = on_progress or no_progress
    requested = method
    X = np.asarray(X, dtype=np.float64)
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if len(lat) < 2 * folds:
        raise ValueError(f"too few training photos with coordinates ({len(lat)}); "
                         f"at least {2 * folds} are needed")
    if method not in METHODS:
        raise ValueError(f"unknown method {method}; use one of {', '.join(METHODS)}")
    if method == "verified" and local is None:
        raise ValueError("the verified method needs the training photos (an image column "
                         "whose files can be read)")
    scores = {}
    if method in ("auto", "verified"):
        runs = _neighbour_grid_out_of_fold(X, lat, lon, folds, should_stop)
        on_progress(0.3)
        for i, (name, p) in enumerate([c for c in AUTO_CANDIDATES
                                       if c[0] in ("cells", "regression")]):
            try:
                runs.append(((name, p), out_of_fold(name, p, X, lat, lon, folds,
                                                    should_stop)))
            except ValueError:  # e.g. too few photos for cells
                pass
            on_progress(0.3 + 0.4 * (i + 1) / 2)
        for (name, p), pred in runs:
            err = haversine_km(lat, lon, pred.latitude, pred.longitude) * 1000
            scores[_label(name, p)] = {"mean error (m)": float(np.mean(err)),
                                       "median error (m)": float(np.median(err))}
        (method, params), oof = min(runs, key=lambda r: selection_loss(
            haversine_km(lat, lon, r[1].latitude, r[1].longitude) * 1000))
    else:
        oof = out_of_fold(method, params, X, lat, lon, folds, should_stop)
        on_progress(0.7)
    errors = haversine_km(lat, lon, oof.latitude, oof.longitude) * 1000
    calibration, verifier = Calibration(oof.spread, errors), None
    locator = make_locator(method, **params)  # the answer when nothing verifies
    if local is not None and requested in ("auto", "verified"):
        from orangecontrib.geophoto.geolocate.verify import Verifier, choose
        choice = choose(X, lat, lon, local, oof, folds,
                        on_progress=scaled(on_progress, 0.7, 0.95), should_stop=should_stop)
        if choice is not None:
            scores.update(choice.scores)
        elif requested == "verified":
            raise ValueError("too few training photos show the same place as another to "
                             "learn verification; use auto")
        if choice is not None and (choice.wins or requested == "verified"):
            verifier = Verifier(choice, X, lat, lon, local, paths or [None] * len(lat))
            method, params = "verified", {**verifier.params(),
                                          "fallback": _label(method, params)}
    locator.fit(X, lat, lon, scaled(on_progress, 0.95, 1.0), should_stop)
    on_progress(1.0)
    return GeoModel(locator, calibration, list(feature_names), method, dict(params), scores,
                    verifier)


def selection_loss(errors_m: np.ndarray) -> float:
    """What ``auto`` minimises: the mean of log errors (a 10 m floor), i.e. the geometric
    mean error. Unlike the plain mean it rewards pinpoint answers (near-duplicate views
    placed to a few metres) as much as it punishes far misses, which serves the mean, the
    median and the share within 100 m together."""
    return float(np.mean(np.log(np.maximum(errors_m, 10.0))))


def _label(name, params):
    if not params:
        return name
    return name + " (" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
