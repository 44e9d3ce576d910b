"""`geophoto embed` then `geophoto geolocate`, through files."""
import json
import os

import numpy as np

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.embedders import embed_table
from orangecontrib.geophoto.tables import append_columns, read_table, table_from_paths, write_table
from tests.conftest import VENICE
from tests.exif_fixtures import venice_labels


def test_geolocate_and_evaluate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    from Orange.data import ContinuousVariable
    rows = venice_labels(n=90)
    data = table_from_paths([os.path.join(VENICE, "images", r[0]) for r in rows])
    data = append_columns(data, attributes=[
        (ContinuousVariable("latitude"), [r[1] for r in rows]),
        (ContinuousVariable("longitude"), [r[2] for r in rows])])
    embedded = embed_table(data, top_k=0).embeddings
    train, photos = str(tmp_path / "train.pkl"), str(tmp_path / "photos.pkl")
    write_table(embedded[:70], train)
    write_table(embedded[70:], photos)
    out = str(tmp_path / "out.csv")
    assert main(["-q", "geolocate", train, photos, "--method", "knn", "-o", out,
                 "--evaluate", "--folds", "3"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["photos"] == 70 and 0 <= scores["within 1 km"] <= 1
    located = read_table(out)
    assert len(located) == 20
    assert np.isfinite(located.get_column("error (m)").astype(float)).all()
    assert main(["geolocate", train]) == 1
