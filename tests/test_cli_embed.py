"""`geophoto embed` end to end."""
import csv

import numpy as np

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.tables import read_table


def test_folder_to_table_with_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "emb.csv"
    assert main(["-q", "embed", SAMPLE_PHOTOS, str(tmp_path / "gone.jpg"), "--top", "2",
                 "--layer", "fire9", "-o", str(out)]) == 0
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[0] == "image" and len(rows) == len(sample_photo_paths()) + 1
    assert "n511" in rows[0] and "n512" not in rows[0]
    assert rows[-1]["error"] == "file not found" and rows[-1]["n0"] == ""
    assert all(r["name"] == f"{r['label 1']} / {r['label 2']}" for r in rows[:-1])
    table = read_table(str(out))
    assert np.isfinite(table.get_column("n0")[:-1].astype(float)).all()


def test_bad_model_is_one_line_error(tmp_path, capsys):
    assert main(["embed", SAMPLE_PHOTOS, "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "signature.json" in err
