"""Geo Classifier core on real Venice photos embedded in the test with the bundled model."""
import os
import pickle

import numpy as np
import pytest
from Orange.data import ContinuousVariable, DiscreteVariable, Domain

from orangecontrib.geophoto.embedders import embed_table
from orangecontrib.geophoto.geolocate import (
    GeoPhotoModel, evaluate, predict_table, train, training_data,
)
from orangecontrib.geophoto.geolocate.cells import adaptive_partition, leaf_ids, parent_ids
from orangecontrib.geophoto.geolocate.learners import Calibration, geometric_median
from orangecontrib.geophoto.geolocate.metrics import error_metrics, haversine_km
from orangecontrib.geophoto.geolocate.places import (
    place_probabilities, place_similarity, rank_places, train_places,
)
from orangecontrib.geophoto.tables import append_columns, table_from_paths
from tests.conftest import VENICE
from tests.exif_fixtures import venice_labels

N = 320


@pytest.fixture(scope="module")
def venice_embedded(tmp_path_factory):
    rows = venice_labels(n=N)
    os.environ["GEOPHOTO_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    data = table_from_paths([os.path.join(VENICE, "images", r[0]) for r in rows])
    data = append_columns(data, attributes=[
        (ContinuousVariable("latitude"), [r[1] for r in rows]),
        (ContinuousVariable("longitude"), [r[2] for r in rows])])
    return embed_table(data, layer="fire9", top_k=0).embeddings


def test_auto_beats_the_centroid_and_calibrates_its_radius(venice_embedded):
    train_rows, test_rows = venice_embedded[:260], venice_embedded[260:]
    model = train(train_rows)
    out = predict_table(model, test_rows)
    lat, lon = test_rows.get_column("latitude"), test_rows.get_column("longitude")
    errors = out.get_column("error (m)")
    np.testing.assert_allclose(errors, haversine_km(
        lat, lon, out.get_column("latitude (predicted)"),
        out.get_column("longitude (predicted)")) * 1000)
    centroid = haversine_km(lat, lon, train_rows.get_column("latitude").mean(),
                            train_rows.get_column("longitude").mean()) * 1000
    # with 260 training photos the gain is in pinpoint answers (near-duplicate views)
    assert np.sum(errors < 100) >= 3 and np.sum(centroid < 100) == 0
    inside = np.mean(errors <= out.get_column("uncertainty (m)"))
    assert 0.4 <= inside <= 0.95
    assert out.domain["latitude (predicted)"] in out.domain.attributes


def test_each_method_predicts_and_model_pickles(venice_embedded):
    for method in ("knn", "cells", "regression"):
        model = train(venice_embedded[:200], method)
        again = pickle.loads(pickle.dumps(GeoPhotoModel(model)))
        out = again(venice_embedded[200:220])
        lat = out.get_column("latitude (predicted)")
        assert np.isfinite(lat).all() and (np.abs(lat - 45.43) < 0.1).all(), method
    cells = predict_table(train(venice_embedded[:200], "cells"), venice_embedded[200:205],
                          top=3)
    assert all(cells.get_column("cell")) and "candidate 3 probability" in \
        [v.name for v in cells.domain.metas]


def test_evaluation_scores(venice_embedded):
    result = evaluate(venice_embedded[:150], "knn", folds=3)
    s = result.scores
    assert s["photos"] == 150
    assert s["within 100 m"] <= s["within 250 m"] <= s["within 1 km"] <= s["within 25 km"]
    assert s["within 2500 km"] == 1.0
    assert s["median error (m)"] == pytest.approx(np.median(result.errors_m))
    assert 0 < result.coverage <= 1


def test_bad_input(venice_embedded):
    data = venice_embedded[:60].copy()
    with data.unlocked(data.X):
        data.X[:5, data.domain.index("latitude")] = np.nan
    assert training_data(data).skipped == 5
    with data.unlocked(data.X):
        data.X[5, data.domain.index("latitude")] = 123
    with pytest.raises(ValueError, match="out of range"):
        train(data)
    with pytest.raises(ValueError, match="too few"):
        train(venice_embedded[:4])
    model = train(venice_embedded[:60], "knn")
    fewer = venice_embedded.transform(Domain(venice_embedded.domain.attributes[:100],
                                             metas=venice_embedded.domain.metas))
    with pytest.raises(ValueError, match="lack 414 of the model's 512 features"):  # 98 kept
        predict_table(model, fewer)
    with pytest.raises(ValueError, match="no latitude and longitude"):
        train(table_from_paths(["a.jpg"]))
    coords_only = venice_embedded.transform(Domain(venice_embedded.domain.attributes[:2]))
    with pytest.raises(ValueError, match="no feature columns"):
        train(coords_only)


def test_adaptive_partition_on_real_positions():
    rows = venice_labels()
    lat = np.array([r[1] for r in rows])
    lon = np.array([r[2] for r in rows])
    leaves = leaf_ids(lat, lon)
    partition = adaptive_partition(leaves, t_max=100, t_min=10)
    counts = np.bincount(partition.labels[partition.labels >= 0],
                         minlength=len(partition.cells))
    assert (counts >= 10).all()
    # a cell still over t_max only if it reached the deepest level
    assert all(c <= 100 or lvl == 20 for c, lvl in zip(counts, partition.levels))
    for k in range(len(partition.cells)):
        members = leaves[partition.labels == k]
        assert (parent_ids(members, int(partition.levels[k])) == partition.cells[k]).all()


def test_geometric_median_and_calibration():
    pts = np.array([[[0, 0, 0], [0, 0, 0], [0, 0, 0], [1000, 0, 0]]], float)
    assert np.abs(geometric_median(pts, np.ones((1, 4)))[0]).max() < 1
    spread = np.linspace(0, 100, 400)
    errors = spread * np.random.default_rng(0).uniform(0, 2, 400)
    radius = Calibration(spread, errors)(spread)
    assert 0.6 <= np.mean(errors <= radius) <= 0.76
    assert error_metrics(np.array([50.0, 150, 2e6]))["within 100 m"] == pytest.approx(1 / 3)


def test_place_mode(venice_embedded):
    lon = venice_embedded.get_column("longitude")
    side = DiscreteVariable("district", values=("west", "east"))
    liked = DiscreteVariable("liked", values=("no", "yes"))
    east = (lon > np.median(lon)).astype(float)
    data = append_columns(venice_embedded, attributes=[(side, east), (liked, east)])
    model = train_places(data[:250], side)
    probs = place_probabilities(model, data[250:])
    assert np.allclose(probs.get_column("P(west)") + probs.get_column("P(east)"), 1)
    distances = place_similarity(model, data, side)
    assert distances.shape == (2, 2) and distances[0, 0] == pytest.approx(0, abs=1e-9)
    ranking = rank_places(model, data, liked)
    assert list(ranking.get_column("place")) == ["east", "west"]
