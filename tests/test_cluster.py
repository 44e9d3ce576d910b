"""The core on a Dask LocalCluster of 2 worker processes: the same results as one process,
Parquet datasets read back by pandas, geopandas and Orange, resuming, dying workers,
unreachable schedulers and models that cannot load."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from orangecontrib.geophoto import cluster
from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.tables import read_table
from tests.conftest import ROOT, VENICE, venice_or_skip

pytestmark = pytest.mark.filterwarnings("ignore")
SIZE = 16  # photos per partition: several partitions per worker on small data


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Workers inherit the environment when they start: an empty embedding cache for all."""
    folder = str(tmp_path_factory.mktemp("cache"))
    old = os.environ.get("GEOPHOTO_CACHE_DIR")
    os.environ["GEOPHOTO_CACHE_DIR"] = folder
    yield folder
    if old is None:
        os.environ.pop("GEOPHOTO_CACHE_DIR", None)
    else:
        os.environ["GEOPHOTO_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def client(cache_dir):
    """One LocalCluster of 2 worker processes (1 thread each) for the module."""
    with cluster.connect(workers=2) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The shipped samples, 80 Venice photos and three that cannot be read: truncated,
    not an image, missing."""
    venice_or_skip()
    folder = tmp_path_factory.mktemp("photos")
    names = sorted(os.listdir(os.path.join(VENICE, "images")))[:80]
    paths = sorted(glob.glob(os.path.join(ROOT, "workflows", "photos", "*.jpg")))
    paths += [os.path.join(VENICE, "images", n) for n in names]
    data = open(paths[0], "rb").read()
    (folder / "truncated.jpg").write_bytes(data[:len(data) // 3])
    (folder / "not-an-image.jpg").write_text("hello")
    return paths + [str(folder / "truncated.jpg"), str(folder / "not-an-image.jpg"),
                    str(folder / "missing.jpg")]


@pytest.fixture(scope="module")
def single_embed(photos, tmp_path_factory, cache_dir):
    """`geophoto embed` in this process, as today."""
    out = str(tmp_path_factory.mktemp("single") / "single.pkl")
    assert main(["-q", "embed", *photos, "--no-cache", "-o", out]) == 0
    return read_table(out)


def address(client):
    return client.scheduler.address


def by_path(table):
    """Rows sorted by path: (paths, numbers, metas as text)."""
    paths = [str(p) for p in table.get_column("image")]
    order = np.argsort(paths, kind="stable")
    metas = np.array([[str(v) for v in row] for row in table.metas], dtype=object)
    return [paths[i] for i in order], table.X[order], metas[order]


def assert_same(table, expected, atol=1e-5, rtol=1e-7):
    assert [v.name for v in table.domain.attributes] == \
        [v.name for v in expected.domain.attributes]
    assert [v.name for v in table.domain.metas] == [v.name for v in expected.domain.metas]
    paths, X, metas = by_path(table)
    paths_e, X_e, metas_e = by_path(expected)
    assert paths == paths_e
    np.testing.assert_allclose(X, X_e, atol=atol, rtol=rtol, equal_nan=True)
    names = [v.name for v in table.domain.metas]
    for j, name in enumerate(names):
        if name.startswith("probability") or table.domain.metas[j].is_time:
            a = np.array([float(x) if x not in ("", "?") else np.nan for x in metas[:, j]])
            b = np.array([float(x) if x not in ("", "?") else np.nan for x in metas_e[:, j]])
            np.testing.assert_allclose(a, b, atol=1e-4, equal_nan=True)
        else:
            assert list(metas[:, j]) == list(metas_e[:, j]), name


def env():
    return {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", *args],
                          capture_output=True, text=True, env=env(), timeout=timeout,
                          cwd=ROOT)


def wait_idle(client, timeout=120):
    """Until no task of an abandoned run is still running on a worker."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(client.processing().values()):
        time.sleep(0.2)


# --- the same results ---------------------------------------------------------------------

def test_geotags_on_workers_equal_one_process(client, photos, tmp_path):
    from orangecontrib.geophoto.exif import read_geotags
    assert list(map(repr, read_geotags(photos, client=client))) == \
        list(map(repr, read_geotags(photos)))  # repr: NaN fields compare equal
    single, spread = str(tmp_path / "single.pkl"), str(tmp_path / "spread.pkl")
    assert main(["-q", "exif", *photos, "-o", single]) == 0
    assert main(["-q", "exif", *photos, "--cluster", address(client), "--partition-size",
                 str(SIZE), "-o", spread]) == 0
    a, b = read_table(spread), read_table(single)
    assert [str(p) for p in a.get_column("image")] == photos  # the same order, unsorted
    assert_same(a, b, atol=0)
    assert a.get_column("error")[-2:].all()  # the unreadable ones, with their reasons


def test_embed_on_workers_equals_one_process_and_loads_the_model_once(
        client, photos, single_embed, tmp_path):
    out = str(tmp_path / "spread.pkl")
    assert main(["-q", "embed", *photos, "--no-cache", "--cluster", address(client),
                 "--partition-size", str(SIZE), "-o", out]) == 0
    assert_same(read_table(out), single_embed)

    def loaded():
        from orangecontrib.geophoto.embedders.models import _LOADED
        return sorted((str(k), id(m)) for k, m in _LOADED.items())
    before = client.run(loaded)
    assert all(len(models) == 1 for models in before.values())  # one model per worker
    from orangecontrib.geophoto.embedders import embed_paths
    result = embed_paths(photos[:40], "squeezenet", top_k=5, cache=False, client=client)
    assert client.run(loaded) == before  # the same model objects: not loaded again
    assert result.features.shape == (40, single_embed.X.shape[1])
    np.testing.assert_allclose(result.features, single_embed.X[:40], atol=1e-5)


def test_workers_option_gives_the_same_csv(photos, tmp_path):
    """`--workers 2`: a LocalCluster started and closed by the command itself."""
    single, spread = tmp_path / "single.csv", tmp_path / "spread.csv"
    assert main(["-q", "exif", *photos[:30], "-o", str(single)]) == 0
    done = cli("exif", *photos[:30], "--workers", "2", "--partition-size", "8",
               "-o", str(spread))
    assert done.returncode == 0, done.stderr
    assert "dask: 2 workers" in done.stderr
    assert spread.read_bytes() == single.read_bytes()


# --- Parquet datasets ---------------------------------------------------------------------

def test_parquet_dataset_reads_back_in_pandas_geopandas_and_orange(client, photos, tmp_path):
    import geopandas
    import pandas as pd
    out = str(tmp_path / "geotags.parquet")
    assert main(["-q", "exif", *photos, "--cluster", address(client), "--partition-size",
                 str(SIZE), "-o", out]) == 0
    parts = sorted(os.listdir(out))
    n_parts = -(-len(photos) // SIZE)
    assert parts == ["_manifest.json"] + [cluster.part_name(i) for i in range(n_parts)]
    manifest = json.load(open(os.path.join(out, "_manifest.json")))
    assert manifest["complete"] and manifest["rows"] == len(photos)
    assert manifest["partitions"] == n_parts and manifest["command"] == "exif"
    assert sum(p["rows"] for p in manifest["parts"].values()) == len(photos)
    assert [c["name"] for c in manifest["schema"]][:3] == ["image", "latitude", "longitude"]

    frame = pd.read_parquet(out)
    assert sorted(frame["image"]) == sorted(photos)  # each file exactly once
    assert str(frame["time (UTC)"].dtype) == "datetime64[us, UTC]"
    assert frame.set_index("image").loc[photos[-1], "error"]  # missing file: its reason
    points = geopandas.read_parquet(out)
    located = points[points["latitude"].notna()]
    assert len(located) > 0 and (located.geometry.geom_type == "Point").all()
    np.testing.assert_allclose(located.geometry.x, located["longitude"])
    np.testing.assert_allclose(located.geometry.y, located["latitude"])
    assert points.crs.to_epsg() == 4326 or "CRS84" in points.crs.to_string()
    assert points[points["latitude"].isna()].geometry.isna().all()

    single = str(tmp_path / "single.pkl")
    assert main(["-q", "exif", *photos, "-o", single]) == 0
    assert_same(cluster.read_parquet_table(out), read_table(single), atol=0)
    sample = cluster.read_parquet_table(out, sample=10)
    assert len(sample) == 10 and sample.domain.attributes[0].name == "latitude"

    # one process, the same dataset
    alone = str(tmp_path / "alone.parquet")
    assert main(["-q", "exif", *photos, "--partition-size", str(SIZE), "-o", alone]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(alone), frame)


def test_output_folder_that_is_not_ours_is_refused(photos, tmp_path, capsys):
    foreign = tmp_path / "mine.parquet"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["-q", "exif", *photos[:3], "-o", str(foreign)]) == 1
    assert "not a geophoto dataset" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    out = str(tmp_path / "out.parquet")
    assert main(["-q", "exif", *photos[:3], "-o", out]) == 0
    assert main(["-q", "exif", *photos[:4], "-o", out, "--resume"]) == 1
    assert "other inputs" in capsys.readouterr().err


# --- resuming and faults ------------------------------------------------------------------

def test_resume_after_the_client_is_killed(client, photos, single_embed, tmp_path):
    out = tmp_path / "embedded.parquet"
    args = ["embed", *photos, "--no-cache", "--cluster", address(client),
            "--partition-size", "4", "-o", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "orangecontrib.geophoto.cli", *args],
                            env=env(), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 240
        while not glob.glob(str(out / "part-*.parquet")) and time.monotonic() < end:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_idle(client)
    manifest = json.load(open(out / "_manifest.json"))
    if manifest["complete"]:
        pytest.skip("the run ended before it could be interrupted")
    assert not glob.glob(str(out / ".*"))  # no half-written part
    kept = len(glob.glob(str(out / "part-*.parquet")))
    done = cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    assert f"{kept} kept from before" in done.stderr or kept == 0
    assert_same(cluster.read_parquet_table(str(out)), single_embed)
    assert json.load(open(out / "_manifest.json"))["complete"]


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
        client, photos, single_embed, tmp_path):
    killed = []

    def kill_a_busy_worker(fraction):
        if killed or fraction >= 1:
            return
        pids = client.run(os.getpid)
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    out = str(tmp_path / "embedded.parquet")
    job = cluster.path_job("embed", cluster.embed_part, photos, 4,
                           extra=("squeezenet", None, 5, 32, False))
    summary = cluster.run_job(job, client, out, on_progress=kill_a_busy_worker)
    assert killed
    assert summary.rows == len(photos) and summary.parts == len(job.items)
    table = cluster.read_parquet_table(out)
    assert sorted(map(str, table.get_column("image"))) == sorted(photos)
    assert_same(table, single_embed)
    client.wait_for_workers(2, timeout=120)


def test_unreachable_scheduler_is_one_line(photos):
    done = cli("exif", photos[0], "--cluster", "tcp://127.0.0.1:1", timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("geophoto exif: error: no Dask scheduler answers at "
                               "tcp://127.0.0.1:1")


def test_model_that_cannot_load_on_the_workers_is_one_line(client, photos, tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_text("not a model")
    done = cli("embed", *photos[:20], "--cluster", address(client), "--partition-size", "5",
               "--model", str(bad), "-o", str(tmp_path / "out.parquet"), timeout=240)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("geophoto embed: error: ") and str(bad) in lines[-1], \
        done.stderr
    assert "Traceback" not in done.stderr


def test_geolocate_predicts_a_dataset_on_the_workers(client, photos, single_embed, tmp_path):
    """The fitted model goes to the workers; each part file of PHOTOS is a task."""
    from Orange.data import ContinuousVariable
    from orangecontrib.geophoto.tables import append_columns, write_table
    from tests.exif_fixtures import venice_labels
    where = {n: (lat, lon) for n, lat, lon in venice_labels()}
    paths = [str(p) for p in single_embed.get_column("image")]
    rows = [i for i, p in enumerate(paths) if os.path.basename(p) in where
            and os.path.dirname(p) == os.path.join(VENICE, "images")][:50]
    latlon = np.array([where[os.path.basename(paths[i])] for i in rows])
    train = append_columns(single_embed[rows], attributes=[
        (ContinuousVariable("latitude"), latlon[:, 0]),
        (ContinuousVariable("longitude"), latlon[:, 1])])
    write_table(train, str(tmp_path / "train.pkl"))
    write_table(single_embed, str(tmp_path / "photos.pkl"))
    photos_dataset = str(tmp_path / "photos.parquet")
    assert main(["-q", "embed", *photos, "--partition-size", str(SIZE), "--cluster",
                 address(client), "-o", photos_dataset]) == 0
    train = ["-q", "geolocate", str(tmp_path / "train.pkl")]
    assert main([*train, str(tmp_path / "photos.pkl"), "--method", "knn",
                 "-o", str(tmp_path / "one.pkl")]) == 0
    out = str(tmp_path / "located.parquet")
    assert main([*train, photos_dataset, "--method", "knn", "--cluster", address(client),
                 "-o", out]) == 0
    located = cluster.read_parquet_table(out)
    expected = read_table(str(tmp_path / "one.pkl"))
    # the features agree to 1e-5; distances summed in another order move the uncertainty
    # radius (hundreds of metres) by a millimetre
    assert_same(located, expected, rtol=1e-5)
    import geopandas
    points = geopandas.read_parquet(out)
    ok = points["latitude (predicted)"].notna()
    np.testing.assert_allclose(points[ok].geometry.y, points[ok]["latitude (predicted)"])


def test_terminated_client_closes_its_local_cluster(photos, tmp_path):
    """SIGTERM to `--workers 2` mid-run: status 143, no temporary part, no worker process
    left."""
    import psutil
    out = tmp_path / "geotags.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "orangecontrib.geophoto.cli", "embed",
                             *photos, "--no-cache", "--workers", "2", "--partition-size", "2",
                             "-o", str(out)], env=env(), cwd=ROOT, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "dask: 2 workers" in proc.stderr.readline()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        end = time.monotonic() + 240
        while not glob.glob(str(out / "part-*.parquet")) and time.monotonic() < end:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive
    assert not glob.glob(str(out / ".*"))
