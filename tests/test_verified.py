"""Verified retrieval (local features + geometric check) on real Venice photos."""
import os
import pickle
import shutil

import numpy as np
import pytest
from Orange.data import ContinuousVariable, DiscreteVariable, Domain, StringVariable

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.embedders import embed_table
from orangecontrib.geophoto.embedders.cache import content_key
from orangecontrib.geophoto.geolocate import GeoPhotoModel, predict_table, train
from orangecontrib.geophoto.geolocate.metrics import haversine_km
from orangecontrib.geophoto.geolocate.verify import (
    VERIFIED_INLIERS, LocalFeatureCache, LocalStore, inliers, local_features, pair_stats,
    verify_neighbours)
from orangecontrib.geophoto.images import read_bytes
from orangecontrib.geophoto.tables import (
    append_columns, find_image_column, image_paths, read_table, table_from_paths, write_table)
from tests.conftest import VENICE
from tests.exif_fixtures import venice_labels

N_TRAIN, N_TEST = 150, 30


def dense_area():
    """Training and test photos nearest to the busiest training spot (the photos of one
    area, so that some test photos have views of the same place among the training ones)."""
    train_rows, test_rows = venice_labels(split="train"), venice_labels(split="test")
    lat = np.array([r[1] for r in train_rows])
    lon = np.array([r[2] for r in train_rows])
    near = [(haversine_km(lat, lon, a, b) < 0.3).sum() for a, b in zip(lat, lon)]
    centre = int(np.argmax(near))

    def nearest(rows, n):
        d = haversine_km(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                         lat[centre], lon[centre])
        return [rows[i] for i in np.argsort(d)[:n]]
    return nearest(train_rows, N_TRAIN), nearest(test_rows, N_TEST)


def table(rows, folder):
    data = table_from_paths([os.path.join(folder, r[0]) for r in rows])
    return append_columns(data, attributes=[
        (ContinuousVariable("latitude"), [r[1] for r in rows]),
        (ContinuousVariable("longitude"), [r[2] for r in rows])])


@pytest.fixture(scope="module")
def area(tmp_path_factory):
    """(training table, test table, folder of the test photos' copies, cache folder);
    embedded with fire9."""
    cache = str(tmp_path_factory.mktemp("cache"))
    os.environ["GEOPHOTO_CACHE_DIR"] = cache
    train_rows, test_rows = dense_area()
    copies = tmp_path_factory.mktemp("photos")
    for name, *_ in test_rows:
        shutil.copy(os.path.join(VENICE, "images", name), copies / name)
    images = os.path.join(VENICE, "images")
    embed = lambda t: embed_table(t, layer="fire9", top_k=0).embeddings  # noqa: E731
    return embed(table(train_rows, images)), embed(table(test_rows, str(copies))), copies, \
        cache


@pytest.fixture(scope="module")
def fitted(area):
    train_table, test_table, copies, _ = area
    model = train(train_table, "verified")
    # after embedding, two photos become unreadable: one truncated, one gone
    names = image_paths(test_table, find_image_column(test_table))
    with open(names[0], "r+b") as f:
        f.truncate(2000)
    os.remove(names[1])
    return model, predict_table(model, test_table)


def test_verified_answers_are_closer_than_the_others(fitted):
    model, out = fitted
    assert model.method == "verified" and {"k", "sharpness", "fallback"} <= set(model.params)
    errors = out.get_column("error (m)")
    verified = out.get_column("verified") == 1
    assert 0 < verified.sum() < len(out)
    assert errors[verified].mean() < errors[~verified].mean()
    radius = out.get_column("uncertainty (m)")
    assert np.median(radius[verified]) < np.median(radius[~verified])


def test_columns_and_their_types(fitted):
    model, out = fitted
    domain = out.domain
    assert isinstance(domain["verified"], DiscreteVariable)
    assert domain["verified"].values == ("no", "yes")
    matched = domain["matched photo"]
    assert isinstance(matched, StringVariable) and matched.attributes["type"] == "image"
    assert isinstance(domain["inliers"], ContinuousVariable)
    verified = out.get_column("verified") == 1
    origin = matched.attributes["origin"]
    counts = out.get_column("inliers")
    for value, ok in zip(out.get_column("matched photo"), verified):
        if ok:  # Image Viewer finds the confirming training photo
            assert os.path.isfile(os.path.join(origin, value))
    # a verified photo names the training photo that confirmed it, the others none
    assert all(bool(m) == ok for m, ok in zip(out.get_column("matched photo"), verified))
    assert (counts[verified] >= VERIFIED_INLIERS).all()  # a place confirmed in detail
    assert np.isfinite(out.get_column("latitude (predicted)")).all()


def test_unreadable_photo_falls_back_with_a_reason(fitted):
    _, out = fitted
    notes = list(out.get_column("verification"))
    assert notes[0].startswith("photo not read:") and "ends early" in notes[0]
    assert notes[1] == "photo not read: file not found"
    assert (out.get_column("verified")[:2] == 0).all()
    assert np.isnan(out.get_column("inliers")[:2]).all()
    assert np.isfinite(out.get_column("latitude (predicted)")[:2]).all()
    assert np.isfinite(out.get_column("uncertainty (m)")[:2]).all()


def test_local_features_are_cached_by_content(area, fitted):
    train_table, _, _, cache = area
    store = LocalFeatureCache(cache)
    assert os.path.isfile(store.path) and os.path.dirname(store.path) == cache
    assert len(store) >= N_TRAIN  # the training photos (and the readable test photos)
    paths = image_paths(train_table, find_image_column(train_table))[:20]
    features, reasons = local_features(paths, store)
    contents = {content_key(read_bytes(p)) for p in paths}  # the set has copies of a photo
    assert store.hits == len(contents) and not any(reasons)
    fresh = local_features(paths, None)[0]
    for (xy, desc), (xy2, desc2) in zip(features, fresh):
        np.testing.assert_array_equal(desc, desc2)
        np.testing.assert_array_equal(xy, xy2)
        assert 0 < len(desc) <= 1000 and desc.dtype == np.uint8


def test_a_photo_matches_itself_not_an_unrelated_one(area):
    train_table, _, _, _ = area
    paths = image_paths(train_table, find_image_column(train_table))
    features, _ = local_features([paths[0], paths[0], paths[-1]], None)
    counts = inliers(features[0], LocalStore(features[1:]), [0, 1])
    assert counts[0] > 100 and counts[0] > 3 * counts[1]


def test_model_pickles_and_auto_works_without_photos(area, fitted):
    train_table, test_table, _, _ = area
    model, out = fitted
    again = pickle.loads(pickle.dumps(GeoPhotoModel(model)))(test_table)
    np.testing.assert_allclose(again.get_column("latitude (predicted)"),
                               out.get_column("latitude (predicted)"))
    no_images = train_table.transform(Domain(train_table.domain.attributes))
    assert train(no_images).verifier is None  # auto: the other methods
    with pytest.raises(ValueError, match="verified method needs the training photos"):
        train(no_images, "verified")


def test_cli_verified_end_to_end(area, tmp_path, capsys):
    train_table, test_table, _, _ = area
    train_path, photos = str(tmp_path / "train.pkl"), str(tmp_path / "photos.pkl")
    write_table(train_table[:100], train_path)
    write_table(test_table[2:12], photos)
    out = str(tmp_path / "out.csv")
    assert main(["-q", "geolocate", train_path, photos, "--method", "verified",
                 "-o", out]) == 0
    located = read_table(out)
    names = {v.name for v in located.domain.variables + located.domain.metas}
    assert {"verified", "matched photo", "inliers", "verification"} <= names
    assert len(located) == 10
    no_images = str(tmp_path / "plain.pkl")
    write_table(train_table.transform(Domain(train_table.domain.attributes)), no_images)
    assert main(["geolocate", no_images, photos, "--method", "verified"]) == 1
    assert "geolocate: error: the verified method needs the training photos" in \
        capsys.readouterr().err


def test_every_method_is_described_in_words():
    """The widget's Info says the chosen model in words, verified retrieval too (it read
    "Verified" alone)."""
    from types import SimpleNamespace
    from orangecontrib.geophoto.geolocate import describe
    from orangecontrib.geophoto.geolocate.learners import METHODS
    for method in METHODS:
        if method == "auto":  # never the fitted method: auto fits one of the others
            continue
        text = describe(SimpleNamespace(method=method, params={"k": 20}, cv_scores=None))
        assert len(text.split()) > 3 and ":" in text, (method, text)


def test_matching_on_threads_gives_the_serial_answer(area):
    """Pairs are matched on all cores; OpenCV's RANSAC is seeded, so the statistics are
    those of one thread, pair for pair."""
    train_table, _, _, _ = area
    paths = image_paths(train_table, find_image_column(train_table))[:24]
    features, _ = local_features(paths, None)
    store = LocalStore(features)
    idx = np.array([np.roll(np.arange(24), -i)[1:13] for i in range(24)])
    serial = np.stack([pair_stats(q, store, row) for q, row in zip(features, idx)])
    np.testing.assert_array_equal(verify_neighbours(features, store, idx), serial)
    assert (serial[..., 1] > 0).any()  # some pairs of this busy spot do match


def test_verified_needs_photos_of_the_same_places(area):
    """Training photos that are all far apart give no example of a matched place to learn
    from: asking for verified says so, auto quietly uses the others."""
    train_table, _, _, _ = area
    rows = venice_labels(split="train")
    lat = np.array([r[1] for r in rows])
    lon = np.array([r[2] for r in rows])
    apart = []
    for i in np.argsort(lat):
        if all(haversine_km(lat[i], lon[i], lat[j], lon[j]) > 0.3 for j in apart):
            apart.append(i)
        if len(apart) == 24:
            break
    images = os.path.join(VENICE, "images")
    data = embed_table(table([rows[i] for i in apart], images), layer="fire9",
                       top_k=0).embeddings
    with pytest.raises(ValueError, match="too few training photos show the same place"):
        train(data, "verified")
    assert train(data).verifier is None
