"""Messy input files (issue 10): a truncated main image behind a whole EXIF thumbnail,
HEIC in every part that decodes pixels, FIFOs and devices among the photos, folders that
cannot be read, and file names that are not UTF-8. Made here from real photos."""
import csv
import io
import os
import re
import pwd
import random
import resource
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import piexif
import pytest
from PIL import Image, ImageFile

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.embedders import embed_paths
from orangecontrib.geophoto.export import make_thumbnail
from orangecontrib.geophoto.tables import read_table
from tests.conftest import ROOT
from tests.exif_fixtures import copy_venice

CLI = [sys.executable, "-m", "orangecontrib.geophoto.cli"]


def _env(tmp_dir, **extra):
    return {**os.environ, "PYTHONPATH": ROOT, "GEOPHOTO_CACHE_DIR": str(tmp_dir),
            "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _limit_memory():  # a regression that reads /dev/zero fails fast instead of eating RAM
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2 ** 30, 3 * 2 ** 30))


def _run(args, tmp_dir, timeout=300, **kwargs):
    """Run in a fresh process with a time and memory limit: a hang fails the test."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=_env(tmp_dir), preexec_fn=_limit_memory, **kwargs)


def _errors(table_path):
    table = read_table(str(table_path))
    return dict(zip(table.get_column("image"), table.get_column("error")))


# --- 1. truncation of the main image, whatever LOAD_TRUNCATED_IMAGES says ------------------

@pytest.fixture(params=[False, True], ids=["strict", "load-truncated-images"])
def load_truncated(request):
    """Pillow's global flag as Orange may leave it (other add-ons switch it on)."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = request.param
    yield request.param
    ImageFile.LOAD_TRUNCATED_IMAGES = old


def _photo_with_thumbnail(tmp_path):
    """A real photo with a whole JPEG thumbnail in its EXIF, as cameras write them."""
    path = copy_venice(tmp_path, "0.jpg")
    with Image.open(path) as im:
        small = im.convert("RGB")
    small.thumbnail((160, 160))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=90)
    exif = piexif.dump({"0th": {}, "Exif": {}, "GPS": {}, "1st": {}, "thumbnail": buf.getvalue()})
    piexif.insert(exif, path)
    return path, buf.getvalue()


def test_truncated_main_image_behind_an_exif_thumbnail_is_reported(tmp_path, load_truncated):
    whole, thumb = _photo_with_thumbnail(tmp_path)
    with open(whole, "rb") as f:
        data = f.read()
    cut = data[:len(data) * 2 // 3]
    # the thumbnail's scan and end marker stay whole: marker counting sees a whole JPEG
    assert thumb[-500:] in cut and cut.find(b"\xff\xda") < cut.rfind(b"\xff\xd9")
    jpeg = tmp_path / "cut.jpg"
    jpeg.write_bytes(cut)
    with Image.open(whole) as im:
        im.save(tmp_path / "whole.png")
    png_data = (tmp_path / "whole.png").read_bytes()
    png = tmp_path / "cut.png"
    png.write_bytes(png_data[:len(png_data) * 2 // 3])

    paths = [whole, str(tmp_path / "whole.png"), str(jpeg), str(png)]
    result = embed_paths(paths, cache=False)
    assert result.errors[:2] == ["", ""] and np.isfinite(result.features[:2]).all()
    for reason in result.errors[2:]:
        assert reason.startswith("corrupt or truncated image"), reason
    assert np.isnan(result.features[2:]).all()

    thumbnails = [make_thumbnail(p, str(tmp_path / f"t{i}.jpg"), 64)
                  for i, p in enumerate(paths)]
    assert thumbnails[:2] == [str(tmp_path / "t0.jpg"), str(tmp_path / "t1.jpg")]
    assert thumbnails[2:] == [None, None]  # no half-grey thumbnail


def test_no_whole_photo_is_flagged_and_every_cut_is(venice):
    """The structural check against real photos, with and without EXIF thumbnails, as
    JPEG, PNG and WebP, cut at random places (the last byte included)."""
    from orangecontrib.geophoto.images import truncation
    rng = random.Random(0)
    names = sorted(os.listdir(os.path.join(venice, "images")))[:40]
    for i, name in enumerate(names):
        with Image.open(os.path.join(venice, "images", name)) as im:
            im.load()
            rgb = im.convert("RGB")
        with open(os.path.join(venice, "images", name), "rb") as f:
            variants = [f.read()]
        with_thumb = io.BytesIO()
        thumb = io.BytesIO()
        rgb.resize((80, 60)).save(thumb, "JPEG")
        piexif.insert(piexif.dump({"thumbnail": thumb.getvalue(), "1st": {}}), variants[0],
                      with_thumb)
        variants.append(with_thumb.getvalue())
        for fmt in ("PNG", "WEBP") if i % 10 == 0 else ():
            buf = io.BytesIO()
            rgb.save(buf, fmt)
            variants.append(buf.getvalue())
        for data in variants:
            assert truncation(data) == "", name
            for cut in [rng.randrange(16, len(data)) for _ in range(4)] + [len(data) - 1]:
                assert truncation(data[:cut]), (name, cut, len(data))


# --- 2. HEIC wherever pixels are decoded, in a process that read no EXIF first ------------

def test_heic_is_embedded_and_thumbnailed_in_a_fresh_process(tmp_path):
    import pillow_heif
    jpeg = copy_venice(tmp_path, "0.jpg")
    heic = str(tmp_path / "photo.heic")
    with Image.open(jpeg) as im:
        pillow_heif.from_pillow(im.convert("RGB")).save(heic, quality=90)
    out = tmp_path / "emb.csv"
    proc = _run(CLI + ["-q", "embed", heic, jpeg, "--top", "1", "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["error"] for r in rows] == ["", ""]
    features = [name for name in rows[0] if re.fullmatch(r"n\d+", name)]
    heic_f, jpeg_f = (np.array([float(r[f]) for f in features]) for r in rows)
    assert heic_f @ jpeg_f / np.linalg.norm(heic_f) / np.linalg.norm(jpeg_f) > 0.95

    target = str(tmp_path / "thumb.jpg")
    proc = _run([sys.executable, "-c",
                 "import sys; from orangecontrib.geophoto.export import make_thumbnail; "
                 "print(make_thumbnail(sys.argv[1], sys.argv[2], 64))", heic, target], tmp_path)
    assert proc.stdout.strip() == target, proc.stderr
    with Image.open(target) as im:
        assert max(im.size) == 64


# --- 3. FIFOs and devices: a row with the reason, never opened --------------------------

@pytest.mark.parametrize("command", ["exif", "embed"])
def test_fifos_and_devices_are_rows_with_a_reason_not_a_hang(tmp_path, command):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = copy_venice(folder, "0.jpg")
    walked_fifo = str(folder / "pipe.jpg")
    named_fifo = str(tmp_path / "named.jpg")
    os.mkfifo(walked_fifo)
    os.mkfifo(named_fifo)
    out = tmp_path / "out.pkl"
    proc = _run(CLI + ["-q", command, str(folder), named_fifo, "/dev/zero", "-o", str(out)],
                tmp_path, timeout=150)
    assert proc.returncode == 0, proc.stderr
    errors = _errors(out)
    assert errors == {photo: "", walked_fifo: "not a regular file (a FIFO)",
                      named_fifo: "not a regular file (a FIFO)",
                      "/dev/zero": "not a regular file (a device)"}


def test_thumbnails_of_fifos_and_devices_are_refused_not_a_hang(tmp_path):
    fifo = str(tmp_path / "pipe.jpg")
    os.mkfifo(fifo)
    proc = _run([sys.executable, "-c",
                 "import sys; from orangecontrib.geophoto.export import make_thumbnail; "
                 "print([make_thumbnail(p, sys.argv[3], 64) for p in sys.argv[1:3]])",
                 fifo, "/dev/zero", str(tmp_path / "t.jpg")], tmp_path, timeout=120)
    assert proc.stdout.strip() == "[None, None]", proc.stderr


# --- 4. a folder that cannot be read is reported -----------------------------------------

def test_unreadable_folder_is_reported_not_skipped_silently():
    base = tempfile.mkdtemp(prefix="geophoto-locked-")  # in /tmp: reachable by nobody
    locked = os.path.join(base, "photos", "locked")
    try:
        os.chmod(base, 0o755)
        os.makedirs(os.path.join(base, "photos", "open"))
        os.makedirs(locked)
        photo = copy_venice(os.path.join(base, "photos", "open"), "0.jpg")
        copy_venice(locked, "1.jpg")
        os.chmod(locked, 0)
        home = os.path.join(base, "home")
        os.mkdir(home)
        os.chmod(home, 0o777)
        command = CLI + ["-q", "exif", os.path.join(base, "photos")]
        if os.access(locked, os.R_OK):  # root reads anything: run as nobody instead
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root and setpriv is missing: chmod cannot lock")
            nobody = pwd.getpwnam("nobody")
            command = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                       "--clear-groups"] + command
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              cwd=home, env={**_env(home), "HOME": home})
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.strip() == \
            f"geophoto exif: 1 folder could not be read: {locked} (permission denied)"
        rows = list(csv.DictReader(io.StringIO(proc.stdout)))
        assert [r["image"] for r in rows] == [photo] and rows[0]["error"] == ""
    finally:
        os.chmod(locked, 0o755)
        shutil.rmtree(base)


# --- 5. file names that are not UTF-8 --------------------------------------------------

def test_file_names_that_are_not_utf8_keep_their_rows(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 name on a UTF-8 system: a surrogate
    walked = os.path.join(str(folder), name)
    named = os.path.join(str(tmp_path), os.fsdecode(b"pi\xf1a.jpg"))
    shutil.copyfile(sample_photo_paths()[0], walked)
    shutil.copyfile(sample_photo_paths()[0], named)
    out = str(tmp_path / "geotags.pkl")
    assert main(["-q", "exif", str(folder), named, "-o", out]) == 0
    table = read_table(out)
    assert list(table.get_column("image")) == [walked, named]
    assert list(table.get_column("error")) == ["", ""]
    assert np.isfinite(table.get_column("latitude")).all()

    result = embed_paths([walked, named], cache=False)
    assert result.errors == ["", ""] and np.isfinite(result.features).all()
    target = str(tmp_path / os.fsdecode(b"th\xe9.jpg"))
    assert make_thumbnail(walked, target, 64) == target
