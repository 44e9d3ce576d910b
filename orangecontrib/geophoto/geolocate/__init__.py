"""Geo Classifier core: learn where photos are taken from geotagged examples, predict it for
new photos with a calibrated error radius, and evaluate by cross-validation (no Qt).

    >>> model = train(embeddings_with_coordinates)          # auto: tuned inside the rows
    >>> located = predict_table(model, new_photo_embeddings)
    >>> scores, per_photo = evaluate(embeddings_with_coordinates)
"""
from typing import Callable, NamedTuple

import numpy as np
from Orange.base import Model

from orangecontrib.geophoto.geolocate.learners import (  # noqa: F401
    METHODS, GeoModel, fit_geolocator,
)
from orangecontrib.geophoto.geolocate.metrics import error_metrics, haversine_km
from orangecontrib.geophoto.progress import no_progress, scaled

LAT_PRED = "latitude (predicted)"
LON_PRED = "longitude (predicted)"
UNCERTAINTY = "uncertainty (m)"
CELL = "cell"
ERROR = "error (m)"
NOT_LOCATED = "not located"  # why a photo has no prediction
VERIFIED = "verified"
MATCHED = "matched photo"
INLIERS = "inliers"
VERIFICATION = "verification"


def feature_columns(data):
    """The features a model learns from: continuous attributes other than coordinates,
    times and the columns we add (embeddings are hidden attributes, and count)."""
    skip = {"latitude", "longitude", LAT_PRED, LON_PRED, UNCERTAINTY, ERROR, INLIERS,
            "altitude (m)", "place distance (km)"}
    return [v for v in data.domain.attributes
            if v.is_continuous and not v.is_time and v.name not in skip
            and not v.name.lower().startswith(("lat", "lon", "lng"))]


class TrainingData(NamedTuple):
    X: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    names: list
    skipped: int          # rows without coordinates or features
    rows: np.ndarray = None  # the table rows these are


def training_data(data, lat_var=None, lon_var=None) -> TrainingData:
    """Rows with coordinates and features; coordinates out of range are an error."""
    from orangecontrib.geophoto.tables import coordinates, find_lat_lon
    if lat_var is None or lon_var is None:
        lat_var, lon_var = find_lat_lon(data)
    if lat_var is None:
        raise ValueError("the training data has no latitude and longitude columns")
    features = feature_columns(data)
    if not features:
        raise ValueError("the training data has no feature columns (embed the photos "
                         "first, e.g. with the Local Embedder)")
    latlon = coordinates(data, lat_var, lon_var)
    with np.errstate(invalid="ignore"):
        bad = (np.abs(latlon[:, 0]) > 90) | (np.abs(latlon[:, 1]) > 180)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} training rows have coordinates out of range "
                         "(latitude beyond ±90 or longitude beyond ±180); check the columns")
    X = np.column_stack([data.get_column(v).astype(float) for v in features])
    ok = np.isfinite(latlon).all(1) & np.isfinite(X).all(1)
    return TrainingData(X[ok], latlon[ok, 0], latlon[ok, 1], [v.name for v in features],
                        int((~ok).sum()), np.flatnonzero(ok))


VERIFIES = ("auto", "verified")  # the methods that read the photos' local features


def photo_local_features(data, rows=None, on_progress=None, should_stop=None):
    """(local features, reasons, paths) of the photos in ``data``'s image column (of
    ``rows``), through the content cache; None when the table has no image column."""
    from orangecontrib.geophoto.geolocate.verify import LocalFeatureCache, local_features
    from orangecontrib.geophoto.tables import find_image_column, image_paths
    var = find_image_column(data)
    if var is None:
        return None
    paths = image_paths(data, var, rows)
    features, reasons = local_features(paths, LocalFeatureCache(), on_progress, should_stop)
    return features, reasons, paths


def training_photos(data, t: TrainingData, method, on_progress=None, should_stop=None):
    """(LocalStore, paths) of the training rows' photos for the methods that verify; (None,
    None) when ``auto`` cannot read them (it then chooses among the others)."""
    from orangecontrib.geophoto.geolocate.verify import LocalStore
    found = photo_local_features(data, t.rows, on_progress, should_stop) \
        if method in VERIFIES else None
    if found is None or all(found[1]):
        if method == "verified":
            why = "no image column" if found is None else found[1][0]
            raise ValueError(f"the verified method needs the training photos ({why})")
        return None, None
    return LocalStore(found[0]), found[2]


def train(data, method="auto", lat_var=None, lon_var=None, folds=3,
          on_progress=None, should_stop=None, **params) -> GeoModel:
    on_progress = on_progress or no_progress
    t = training_data(data, lat_var, lon_var)
    local, paths = training_photos(data, t, method, scaled(on_progress, 0, 0.3), should_stop)
    model = fit_geolocator(t.X, t.lat, t.lon, t.names, method, folds,
                           scaled(on_progress, 0.3 if local else 0, 1), should_stop,
                           local=local, paths=paths, **params)
    model.skipped = t.skipped
    return model


def photo_features(model: GeoModel, data) -> np.ndarray:
    names = {v.name: v for v in data.domain.attributes}
    missing = [n for n in model.feature_names if n not in names]
    if missing:
        raise ValueError(f"the photos lack {len(missing)} of the model's "
                         f"{len(model.feature_names)} features (e.g. {missing[0]}): embed "
                         "them with the same model and layer as the training photos")
    return np.column_stack([data.get_column(names[n]).astype(float)
                            for n in model.feature_names])


def predict_table(model: GeoModel, data, top: int = 0):
    """``data`` plus the predicted columns; rows with missing features get missing
    predictions and the reason in ``not located``; ``error (m)`` when the photos carry
    true coordinates."""
    from Orange.data import ContinuousVariable, StringVariable
    from orangecontrib.geophoto.tables import append_columns, coordinates
    X = photo_features(model, data)
    n = len(data)
    ok = np.isfinite(X).all(1)
    lat, lon, radius = (np.full(n, np.nan) for _ in range(3))
    cell = [""] * n
    candidates = [[] for _ in range(n)]
    verifying = getattr(model, "verifier", None) is not None
    if verifying:
        local, reasons = query_photos(data, np.flatnonzero(ok))
    if ok.any():
        p = model.predict(X[ok], top, local if verifying else None)
        lat[ok], lon[ok], radius[ok] = p.latitude, p.longitude, p.uncertainty
        for i, c in zip(np.flatnonzero(ok), p.cell):
            cell[i] = c
        if p.candidates:
            for i, c in zip(np.flatnonzero(ok), p.candidates):
                candidates[i] = c
    attributes = [(ContinuousVariable(LAT_PRED, number_of_decimals=6), lat),
                  (ContinuousVariable(LON_PRED, number_of_decimals=6), lon),
                  (ContinuousVariable(UNCERTAINTY, number_of_decimals=0), radius)]
    metas = [(StringVariable(CELL), cell),
             (StringVariable(NOT_LOCATED), _missing_features(X))]
    for j in range(top):
        metas += [(ContinuousVariable(f"candidate {j + 1} lat.", number_of_decimals=6),
                   [c[j][0] if len(c) > j else np.nan for c in candidates]),
                  (ContinuousVariable(f"candidate {j + 1} long.", number_of_decimals=6),
                   [c[j][1] if len(c) > j else np.nan for c in candidates]),
                  (ContinuousVariable(f"candidate {j + 1} probability",
                                      number_of_decimals=3),
                   [c[j][2] if len(c) > j else np.nan for c in candidates])]
    if verifying:
        metas += verification_columns(p if ok.any() else None, ok, reasons)
    true_lat, true_lon = _true_coordinates(data)
    if true_lat is not None:
        latlon = coordinates(data, true_lat, true_lon)
        metas.append((ContinuousVariable(ERROR, number_of_decimals=0),
                      haversine_km(latlon[:, 0], latlon[:, 1], lat, lon) * 1000))
    out = first_attributes(append_columns(data, attributes=attributes, metas=metas), 3)
    out.name = data.name
    return out


def first_attributes(table, n: int):
    """``table`` with its last ``n`` attributes (the ones just added) moved to the front,
    so a Data Table shows the predictions before hundreds of embedding columns."""
    from Orange.data import Domain
    attrs = table.domain.attributes
    domain = Domain(attrs[-n:] + attrs[:-n], table.domain.class_vars, table.domain.metas)
    return table.transform(domain)


def describe(model: GeoModel) -> str:
    """The fitted method and its settings in words, for the widget's Info and reports."""
    p = model.params
    words = {
        "knn": lambda: f"nearest neighbours: each photo is placed among its "
                       f"{p.get('k', 10)} most similar training photos",
        "knn+cells": lambda: f"neighbours weighted by cells: the {p.get('k', 20)} most "
                             f"similar training photos, weighted by how likely their "
                             f"Earth cell is",
        "cells": lambda: "Earth cells: a classifier picks the most likely S2 cell, from "
                         "coarse to fine",
        "regression": lambda: "regression: features mapped straight to a position",
        "verified": lambda: f"neighbours verified by local features: of the "
                            f"{p.get('k', 20)} most similar training photos, those whose "
                            f"details match the photo's geometrically give the place",
    }
    text = words.get(model.method, lambda: model.method)()
    if model.cv_scores:
        text += f" (the best of {len(model.cv_scores)} settings tried)"
    return text[:1].upper() + text[1:] + "."


def _missing_features(X) -> list:
    """Per row, "" or why it cannot be located (its features are missing)."""
    missing = (~np.isfinite(X)).sum(axis=1)
    total = X.shape[1]
    return ["" if not m else f"all {total} features missing" if m == total
            else f"{m} of {total} features missing" for m in missing.tolist()]


def query_photos(data, rows):
    """Local features of ``rows``' photos (None where unreadable) and, per row, why a photo
    was not verified when it could not be read."""
    found = photo_local_features(data, rows)
    if found is None:
        return [None] * len(rows), ["no image column"] * len(rows)
    features, reasons, _ = found
    return ([None if r else f for f, r in zip(features, reasons)],
            [f"photo not read: {r}" if r else "" for r in reasons])


def verification_columns(p, ok, reasons):
    """``verified`` (no/yes), ``matched photo`` (an image column: Image Viewer shows the
    training photo that confirmed the place), ``inliers`` and ``verification`` (why not)."""
    from Orange.data import ContinuousVariable, DiscreteVariable, StringVariable
    n = len(ok)
    rows = np.flatnonzero(ok)
    verified, inliers = np.full(n, np.nan), np.full(n, np.nan)
    matched, notes = [""] * n, ["no features"] * n
    for j, i in enumerate(rows):
        notes[i] = reasons[j]
    if p is not None:
        verified[rows] = p.verified
        inliers[rows] = p.inliers
        for j, i in enumerate(rows):
            matched[i] = p.matched[j] or ""
            if not notes[i] and not p.verified[j]:
                notes[i] = "no neighbour verified"
    image = StringVariable(MATCHED)
    image.attributes.update({"type": "image",
                             "origin": p.matched_origin if p is not None else ""})
    return [(DiscreteVariable(VERIFIED, values=("no", "yes")), verified),
            (image, matched),
            (ContinuousVariable(INLIERS, number_of_decimals=0), inliers),
            (StringVariable(VERIFICATION), notes)]


def _true_coordinates(data):
    names = {v.name: v for v in (*data.domain.variables, *data.domain.metas)
             if v.is_continuous}
    if "latitude" in names and "longitude" in names:
        return names["latitude"], names["longitude"]
    return None, None


class Evaluation(NamedTuple):
    scores: dict          # error_metrics of the held-out predictions
    latitude: np.ndarray  # per training photo, predicted out of fold
    longitude: np.ndarray
    errors_m: np.ndarray
    coverage: float       # share of photos inside their 68% radius


def evaluate(data, method="auto", folds=5, lat_var=None, lon_var=None,
             on_progress: Callable[[float], None] = None,
             should_stop: Callable[[], bool] = None) -> Evaluation:
    """k-fold cross-validation: each fold is predicted by a model (tuned, for auto, inside
    the other folds only) that never saw it."""
    from orangecontrib.geophoto.geolocate.learners import fold_indices
    from orangecontrib.geophoto.geolocate.verify import LocalStore
    on_progress = on_progress or no_progress
    t = training_data(data, lat_var, lon_var)
    n = len(t.lat)
    if n < folds:
        raise ValueError(f"{folds} folds need at least {folds} training photos with "
                         f"coordinates and features; there are {n}")
    plat, plon, radius = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    store, paths = training_photos(data, t, method, scaled(on_progress, 0, 0.2), should_stop)
    local = [store[i] for i in range(n)] if store is not None else None
    parts = fold_indices(n, folds, seed=1)
    for i, test in enumerate(parts):
        train_rows = np.setdiff1d(np.arange(n), test)
        model = fit_geolocator(
            t.X[train_rows], t.lat[train_rows], t.lon[train_rows], t.names, method, 3,
            scaled(on_progress, 0.2 + 0.8 * i / folds, 0.2 + 0.8 * (i + 1) / folds),
            should_stop, local=LocalStore([local[j] for j in train_rows]) if local else None,
            paths=[paths[j] for j in train_rows] if local else None)
        p = model.predict(t.X[test], local=[local[j] for j in test] if local else None)
        plat[test], plon[test], radius[test] = p.latitude, p.longitude, p.uncertainty
    errors = haversine_km(t.lat, t.lon, plat, plon) * 1000
    on_progress(1.0)
    return Evaluation(error_metrics(errors), plat, plon, errors,
                      float(np.mean(errors <= radius)))


def evaluation_table(evaluation: Evaluation):
    """The scores as a one-column Orange table (metric names as a meta)."""
    from Orange.data import ContinuousVariable, Domain, StringVariable, Table
    names = list(evaluation.scores) + ["within the 68% radius"]
    values = list(evaluation.scores.values()) + [evaluation.coverage]
    domain = Domain([ContinuousVariable("value", number_of_decimals=3)],
                    metas=[StringVariable("metric")])
    table = Table.from_numpy(domain, np.array(values, float)[:, None],
                             metas=np.array(names, dtype=object)[:, None])
    table.name = "Evaluation"
    return table



class GeoPhotoModel(Model):
    """The model as an Orange ``Model``, so Save Model / Load Model (pickle) carry it;
    calling it on photos gives the predictions table."""

    def __init__(self, geo_model: GeoModel, domain=None):
        super().__init__(domain)
        self.geo_model = geo_model
        self.name = f"Geo Classifier ({geo_model.method})"

    def __call__(self, data, *args, **kwargs):  # pylint: disable=arguments-differ
        return predict_table(self.geo_model, data)
