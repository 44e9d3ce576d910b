"""Command-line arguments that make no sense are refused where they are parsed (one usage
line, exit 2), and `geophoto geolocate` does not count photos without features as located."""
import os
import shutil

import numpy as np
import pytest
from Orange.data import ContinuousVariable

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.tables import append_columns, read_table, table_from_paths, write_table
from tests.conftest import VENICE, venice_or_skip
from tests.exif_fixtures import venice_labels

BAD = [
    (["geolocate", "t.csv", "p.csv", "--folds", "0"], "--folds"),
    (["geolocate", "t.csv", "p.csv", "--folds", "1"], "--folds"),
    (["geolocate", "t.csv", "p.csv", "--folds", "1000"], "--folds"),
    (["geolocate", "t.csv", "p.csv", "--folds", "2.5"], "--folds"),
    (["geolocate", "t.csv", "p.csv", "--top", "-1"], "--top"),
    (["geolocate", "t.csv", "p.csv", "--top", "1000000"], "--top"),
    (["exif", "x.jpg", "--clock-offset", "inf"], "--clock-offset"),
    (["exif", "x.jpg", "--clock-offset", "nan"], "--clock-offset"),
    (["exif", "x.jpg", "--clock-offset", "1e300"], "--clock-offset"),
    (["exif", "x.jpg", "--max-gap", "nan"], "--max-gap"),
    (["exif", "x.jpg", "--max-gap", "-5"], "--max-gap"),
    (["exif", "x.jpg", "--max-gap", "1e300"], "--max-gap"),
    (["exif", "x.jpg", "--neighbours", "inf"], "--neighbours"),
    (["embed", "x.jpg", "--top", "-1"], "--top"),
    (["embed", "x.jpg", "--batch-size", "0"], "--batch-size"),
    (["embed", "x.jpg", "--batch-size", "nan"], "--batch-size"),
]


@pytest.mark.parametrize("argv, option", BAD, ids=[" ".join(a[3:] if a[0] == "geolocate"
                                                             else a[2:]) + f" ({a[0]})"
                                                    for a, _ in BAD])
def test_nonsense_values_are_usage_errors(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing to read: the parser must refuse before any work
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"geophoto {argv[0]}: error: argument {option}"), last
    assert os.listdir(tmp_path) == []


def test_sensible_values_still_parse():
    from orangecontrib.geophoto.cli import build_parser
    args = build_parser().parse_args(["exif", "x.jpg", "--clock-offset", "-9.5",
                                      "--max-gap", "0", "--neighbours", "30"])
    assert (args.clock_offset, args.max_gap, args.neighbours) == (-9.5, 0, 30)
    args = build_parser().parse_args(["geolocate", "t", "p", "--folds", "2", "--top", "0"])
    assert (args.folds, args.top) == (2, 0)


def _colour_features(paths):
    """Mean red, green and blue of each photo (NaN when it cannot be read): real, cheap
    features that say something about where in Venice a photo was taken."""
    from PIL import Image
    rows = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.draft("RGB", (64, 64))
                rows.append(np.asarray(image.convert("RGB"), dtype=float).mean(axis=(0, 1)))
        except OSError:
            rows.append(np.full(3, np.nan))
    return np.array(rows)


def _table(paths, labels, path):
    data = table_from_paths(paths)
    features = _colour_features(paths)
    data = append_columns(data, attributes=[
        *[(ContinuousVariable(f"n{i}"), features[:, i]) for i in range(3)],
        (ContinuousVariable("latitude"), [r[1] for r in labels]),
        (ContinuousVariable("longitude"), [r[2] for r in labels])])
    write_table(data, path)
    return path


@pytest.fixture
def venice_tables(tmp_path):
    venice_or_skip()
    labels = venice_labels(n=36)
    paths = [os.path.join(VENICE, "images", r[0]) for r in labels]
    # one photo is cut short (an interrupted copy): it cannot be read, so no features
    broken = str(tmp_path / ("cut-" + labels[-1][0]))
    shutil.copy(paths[-1], broken)
    with open(broken, "r+b") as f:
        f.truncate(300)
    paths[-1] = broken
    return (_table(paths[:30], labels[:30], str(tmp_path / "train.csv")),
            _table(paths[30:], labels[30:], str(tmp_path / "photos.csv")))


def test_photos_without_features_are_not_located(venice_tables, tmp_path, capsys):
    train, photos = venice_tables
    out = str(tmp_path / "out.tab")  # .tab keeps the reason column a text column
    assert main(["geolocate", train, photos, "--method", "knn", "-o", out]) == 0
    err = capsys.readouterr().err
    located = read_table(out)
    lat = located.get_column("latitude (predicted)").astype(float)
    assert np.isfinite(lat[:-1]).all() and np.isnan(lat[-1])
    reasons = located.get_column("not located")
    assert list(reasons[:-1]) == [""] * 5 and reasons[-1] == "all 3 features missing"
    assert "located 5 of 6, 1 not" in err


def test_more_folds_than_training_photos_is_one_line(venice_tables, capsys):
    train, _ = venice_tables
    assert main(["geolocate", train, "--evaluate", "--folds", "40"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "40 folds need at least 40 training photos" in err[0], err
