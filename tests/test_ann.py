"""Approximate nearest neighbours for the Geo Classifier's kNN (geolocate/ann.py) on real
Venice photos embedded in the test, against exact search (faiss IndexFlatIP). The
threshold is set low through the locator's parameter so a few hundred photos use the
index."""
import os
import pickle

import faiss
import numpy as np
import pytest

from orangecontrib.geophoto.embedders import embed_paths
from orangecontrib.geophoto.geolocate import GeoPhotoModel, predict_table
from orangecontrib.geophoto.geolocate.ann import (
    ANN_THRESHOLD, ApproximateIndex, exact_neighbours, recall_at,
)
from orangecontrib.geophoto.geolocate.learners import (
    CombinedLocator, KNNLocator, fit_geolocator,
)
from orangecontrib.geophoto.geolocate.metrics import haversine_km
from tests.conftest import VENICE, venice_or_skip
from tests.exif_fixtures import venice_labels

N, TRAIN = 480, 400


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """(fire9 features, latitude, longitude) of the first N Venice photos."""
    venice_or_skip()
    rows = venice_labels(n=N)
    saved = os.environ.get("GEOPHOTO_CACHE_DIR")
    os.environ["GEOPHOTO_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        X = embed_paths([os.path.join(VENICE, "images", r[0]) for r in rows],
                        layer="fire9").features
    finally:
        if saved is None:
            del os.environ["GEOPHOTO_CACHE_DIR"]
        else:
            os.environ["GEOPHOTO_CACHE_DIR"] = saved
    assert np.isfinite(X).all()
    return X, np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


@pytest.fixture(scope="module")
def fitted(photos):
    """The same training photos fitted with the index (threshold 100) and exactly."""
    X, lat, lon = photos
    ann = KNNLocator(k=10, ann_threshold=100).fit(X[:TRAIN], lat[:TRAIN], lon[:TRAIN])
    exact = KNNLocator(k=10).fit(X[:TRAIN], lat[:TRAIN], lon[:TRAIN])
    return ann, exact


def test_index_is_used_above_the_threshold_only(fitted):
    ann, exact = fitted
    assert isinstance(ann.index, ApproximateIndex)
    # really approximate: fewer lists searched than there are
    assert 1 < ann.index.nlist and ann.index.nprobe < ann.index.nlist
    assert exact.index is None and TRAIN <= ANN_THRESHOLD
    assert ann.index.recall >= 0.95


def test_recall_at_10_on_held_out_photos_against_exact_search(photos, fitted):
    X, _, _ = photos
    ann, _ = fitted
    Q = ann.features.float32(X[TRAIN:])
    flat = faiss.IndexFlatIP(Q.shape[1])
    flat.add(ann.train)
    exact_sims, exact_idx = flat.search(Q, 10)
    sims, idx = ann.neighbours(X[TRAIN:], 10)
    assert recall_at(idx, exact_idx) >= 0.95
    # candidates are re-ranked exactly: the similarities are the vectors' own
    np.testing.assert_allclose(sims, np.einsum("bd,bkd->bk", Q, ann.train[idx]), atol=1e-6)
    assert (np.diff(sims, axis=1) <= 1e-7).all()
    np.testing.assert_allclose(sims[:, 0], exact_sims[:, 0], atol=1e-5)


def test_predictions_close_to_exact(photos, fitted):
    X, lat, lon = photos
    ann, exact = fitted
    p, q = ann.predict(X[TRAIN:]), exact.predict(X[TRAIN:])
    moved = haversine_km(p.latitude, p.longitude, q.latitude, q.longitude) * 1000
    assert np.median(moved) < 1 and np.mean(moved < 1) >= 0.8
    error_ann = haversine_km(lat[TRAIN:], lon[TRAIN:], p.latitude, p.longitude)
    error_exact = haversine_km(lat[TRAIN:], lon[TRAIN:], q.latitude, q.longitude)
    assert np.median(error_ann) <= 1.1 * np.median(error_exact)


def test_exact_below_the_threshold_is_unchanged(photos):
    X, lat, lon = photos
    model = KNNLocator(k=5).fit(X[:200], lat[:200], lon[:200])
    Q = model.features(X[200:260]).astype(np.float32)
    S = Q @ model.train.T
    expected = np.argsort(-S, axis=1, kind="stable")[:, :5]
    sims, idx = model.neighbours(X[200:260], 5)
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(sims, np.take_along_axis(S, expected, axis=1))
    assert model.features.float32(X[:200]).tobytes() == \
        model.features(X[:200]).astype(np.float32).tobytes()


def test_model_with_index_pickles(photos):
    X, lat, lon = photos
    model = fit_geolocator(X[:TRAIN], lat[:TRAIN], lon[:TRAIN],
                           [f"n{i}" for i in range(X.shape[1])], method="knn", k=5,
                           ann_threshold=100)
    assert isinstance(model.locator.index, ApproximateIndex)
    again = pickle.loads(pickle.dumps(GeoPhotoModel(model))).geo_model
    assert isinstance(again.locator.index, ApproximateIndex)
    assert again.locator.index.index.nprobe == model.locator.index.nprobe
    assert again.locator.index.index.ntotal == TRAIN
    before, after = model.predict(X[TRAIN:]), again.predict(X[TRAIN:])
    np.testing.assert_array_equal(before.latitude, after.latitude)
    np.testing.assert_array_equal(before.uncertainty, after.uncertainty)


def test_combined_method_passes_the_threshold(photos):
    X, lat, lon = photos
    model = CombinedLocator(k=10, ann_threshold=100).fit(X[:TRAIN], lat[:TRAIN],
                                                          lon[:TRAIN])
    assert isinstance(model.knn.index, ApproximateIndex)
    assert np.isfinite(model.predict(X[TRAIN:]).latitude).all()


def test_models_pickled_without_an_index_search_exactly(photos, fitted):
    """A kNN model saved by an older version has no ``index``: exact search."""
    X, _, _ = photos
    _, exact = fitted
    old = pickle.loads(pickle.dumps(exact))
    del old.index
    np.testing.assert_array_equal(old.neighbours(X[TRAIN:], 10)[1],
                                  exact_neighbours(exact.train,
                                                   exact.features.float32(X[TRAIN:]), 10)[1])


def test_queries_the_probed_lists_cannot_fill_fall_back_to_exact(photos, fitted):
    X, _, _ = photos
    ann, _ = fitted
    sims, idx = ann.neighbours(X[TRAIN:TRAIN + 5], TRAIN)  # every reference
    assert (idx >= 0).all() and all(len(set(row)) == TRAIN for row in idx)


def test_geo_classifier_table_api_uses_the_index(photos):
    """``predict_table`` through a model trained on a table goes the same way."""
    from Orange.data import ContinuousVariable, Domain, Table
    X, lat, lon = photos
    names = [f"n{i}" for i in range(X.shape[1])]
    model = fit_geolocator(X[:TRAIN], lat[:TRAIN], lon[:TRAIN], names, method="knn",
                           ann_threshold=100)
    domain = Domain([ContinuousVariable(n) for n in names])
    out = predict_table(model, Table.from_numpy(domain, X[TRAIN:]))
    assert np.isfinite(out.get_column("latitude (predicted)")).all()
