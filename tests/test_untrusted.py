"""Untrusted models, tables and workflows: a hostile or broken file is refused with one
clear line, never loaded from outside where it claims to live, never a traceback; the
offline commands finish with the network blocked."""
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest
from Orange.widgets.tests import base as widget_tests

from orangecontrib.geophoto.cli import main
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.embedders import ModelError, load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOWS = os.path.join(ROOT, "workflows")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))


def one_line_error(capsys, command):
    """stderr of a failed in-process run: exactly one line, in the house form."""
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith(f"geophoto {command}: error: "), err
    assert "Traceback" not in err
    return err


# --- Lobe exports ----------------------------------------------------------------------------

def _tflite_bytes():
    """A tiny Keras classifier (3 classes) converted to TFLite, as Lobe exports ship it."""
    import keras
    import tensorflow as tf
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    network = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    return tf.lite.TFLiteConverter.from_keras_model(network).convert()


def lobe_signature(filename="saved_model.tflite"):
    """signature.json as Lobe writes it for a TensorFlow Lite export."""
    return {"doc_id": "4c6e3c4d", "doc_name": "venice", "doc_version": "1",
            "format": "tf_lite", "version": "0.10.0", "filename": filename,
            "inputs": {"Image": {"dtype": "float32", "shape": [None, 32, 32, 3],
                                 "name": "Image"}},
            "outputs": {"Confidences": {"dtype": "float32", "shape": [None, 3],
                                        "name": "Confidences"},
                        "Prediction": {"dtype": "string", "shape": [None],
                                       "name": "Prediction"}},
            "tags": ["serve"], "classes": {"Label": ["boat", "bridge", "church"]},
            "export_model_version": 1}


@pytest.fixture(scope="module")
def tflite_model():
    return _tflite_bytes()


def make_lobe(folder, model_bytes, signature=None, model_at=None):
    """A Lobe export folder; the model file is written to ``model_at`` (default: inside)."""
    os.makedirs(folder, exist_ok=True)
    model_at = model_at or os.path.join(folder, "saved_model.tflite")
    os.makedirs(os.path.dirname(model_at), exist_ok=True)
    with open(model_at, "wb") as f:
        f.write(model_bytes)
    with open(os.path.join(folder, "signature.json"), "w", encoding="utf-8") as f:
        json.dump(lobe_signature() if signature is None else signature, f)
    return folder


def test_a_real_lobe_style_tflite_export_loads(tmp_path, tflite_model):
    model = load_model(make_lobe(str(tmp_path / "lobe"), tflite_model))
    assert list(model.class_names) == ["boat", "bridge", "church"]


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_lobe_model_file_outside_the_export_is_refused(tmp_path, tflite_model, capsys, where):
    outside = str(tmp_path / "outside" / "model.tflite")
    folder = str(tmp_path / "lobe")
    if where == "symlink":
        make_lobe(folder, tflite_model, model_at=outside)
        os.symlink(outside, os.path.join(folder, "saved_model.tflite"))
    else:
        name = "../outside/model.tflite" if where == "parent" else outside
        make_lobe(folder, tflite_model, lobe_signature(name), model_at=outside)
    with pytest.raises(ModelError, match="outside the export folder"):
        load_model(folder)
    assert main(["embed", SAMPLE_PHOTOS, "--model", folder]) == 1
    assert "outside the export folder" in one_line_error(capsys, "embed")


def _broken(signature, **changes):
    for key, value in changes.items():
        if value is KeyError:
            del signature[key]
        else:
            signature[key] = value
    return signature


@pytest.mark.parametrize("changes", [
    {"filename": 12},
    {"filename": None},
    {"filename": ""},
    {"filename": "missing.tflite"},
    {"classes": 5},
    {"classes": {"Label": "boat"}},
    {"classes": [1, [2]]},
    {"filename": KeyError},
    {"inputs": {"Image": 3}},
    {"inputs": {"Image": {"shape": "big"}}},
    {"inputs": {"Image": {"shape": [None, "a", 32, 3]}}},
    {"outputs": "Confidences"},
])
def test_malformed_signature_is_one_line_error(tmp_path, tflite_model, capsys, changes):
    folder = make_lobe(str(tmp_path / "lobe"), tflite_model,
                       _broken(lobe_signature(), **changes))
    with pytest.raises(ModelError, match="signature.json"):
        load_model(folder)
    assert main(["embed", SAMPLE_PHOTOS, "--model", folder]) == 1
    assert "signature.json" in one_line_error(capsys, "embed")



class TestLocalEmbedderRefusesBadLobe(widget_tests.WidgetTest):
    """The widget shows the same short error as the command, not 'Embedding failed'."""

    def setUp(self):
        from orangecontrib.geophoto.widgets.owlocalembedder import OWLocalEmbedder
        self.widget = self.create_widget(OWLocalEmbedder)

    def test_malformed_and_escaping_exports_are_short_errors(self):
        from orangecontrib.geophoto.tables import table_from_paths
        from orangecontrib.geophoto.widgets.owlocalembedder import MODEL_KEYS
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        model = _tflite_bytes()
        outside = os.path.join(tmp, "outside", "model.tflite")
        exports = {
            "classes": make_lobe(os.path.join(tmp, "a"), model,
                                 _broken(lobe_signature(), classes=5)),
            "filename": make_lobe(os.path.join(tmp, "b"), model,
                                  _broken(lobe_signature(), filename=12)),
            "outside the export folder": make_lobe(
                os.path.join(tmp, "c"), model, lobe_signature("../outside/model.tflite"),
                model_at=outside)}
        widget = self.widget
        widget.model_index = MODEL_KEYS.index("custom")
        for expected, folder in exports.items():
            widget.custom_path = folder
            self.send_signal(widget.Inputs.data, table_from_paths(sample_photo_paths()[:2]))
            self.wait_until_finished(widget, timeout=60_000)
            self.assertFalse(widget.Error.failed.is_shown())
            self.assertTrue(widget.Error.model.is_shown())
            # one short sentence in the message bar, the reason in its details (hover)
            short, _, details = str(widget.Error.model).partition("\n")
            self.assertLessEqual(len(short), 36, short)
            self.assertIn(expected, details)
            self.assertIsNone(self.get_output(widget.Outputs.embeddings, widget=widget))


# --- Keras safe mode ---------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_lambda_layer_is_refused_by_safe_mode(tmp_path, capsys, ext):
    """A Lambda layer is Python code inside the file: safe mode must refuse it, and say so."""
    import keras
    inputs = keras.Input((32, 32, 3))
    doubled = keras.layers.Lambda(lambda t: t * 2)(inputs)
    path = str(tmp_path / f"lambda{ext}")
    keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(doubled)).save(path)
    with pytest.raises(ModelError, match=r"Lambda layer .*safe mode"):
        load_model(path)
    assert main(["embed", SAMPLE_PHOTOS, "--model", path]) == 1
    assert "safe mode" in one_line_error(capsys, "embed")


# --- pickled tables -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_pickles(tmp_path_factory):
    """Corrupt .pkl tables: a real table's pickle cut short, a pickle of something else,
    a photo renamed to .pkl, random bytes."""
    folder = tmp_path_factory.mktemp("pickles")
    good = str(folder / "good.pkl")
    assert main(["-q", "exif", SAMPLE_PHOTOS, "-o", good]) == 0
    with open(good, "rb") as f:
        data = f.read()
    with open(sample_photo_paths()[0], "rb") as f:
        photo = f.read()
    contents = {"truncated": data[:len(data) // 2], "not-a-table": pickle.dumps({"a": [1]}),
                "photo": photo, "random": bytes(range(256)) * 7, "empty": b""}
    paths = {}
    for name, content in contents.items():
        paths[name] = str(folder / f"{name}.pkl")
        with open(paths[name], "wb") as f:
            f.write(content)
    return paths


@pytest.mark.parametrize("command", ["geocode", "kml", "geolocate", "exif"])
@pytest.mark.parametrize("kind", ["truncated", "not-a-table", "photo", "random", "empty"])
def test_corrupt_pickle_table_is_one_line_error(tmp_path, capsys, bad_pickles, command, kind):
    path = bad_pickles[kind]
    argv = {"geocode": ["geocode", path], "geolocate": ["geolocate", path, "--evaluate"],
            "kml": ["kml", path, "-o", str(tmp_path / "out.kml")],
            "exif": ["exif", SAMPLE_PHOTOS, "--track", path]}[command]
    capsys.readouterr()
    assert main(argv) == 1
    err = one_line_error(capsys, command)
    assert os.path.basename(path) in err and "not a readable .pkl table" in err
    assert not os.path.exists(tmp_path / "out.kml")


# --- workflows ------------------------------------------------------------------------------

EARTH = os.path.join(WORKFLOWS, "photos-to-google-earth.ows")


def _shipped(name=EARTH):
    with open(name, encoding="utf-8") as f:
        return f.read()


def _write(folder, text, name="broken.ows"):
    path = os.path.join(str(folder), name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


GEO_MAP = ('qualified_name="orangecontrib.geo.widgets.owmap.OWMap" '
           'project_name="Orange3-Geo"')
BROKEN_WORKFLOWS = {
    "truncated": (lambda s: s[:len(s) // 2], "not a workflow file"),
    "empty": (lambda s: "", "not a workflow file"),
    "not-xml": (lambda s: "Geo Map\tlatitude\n45.4\t12.3\n", "not a workflow file"),
    "other-xml": (lambda s: "<kml><Document/></kml>", "not a workflow file"),
    "missing-widget": (lambda s: s.replace(GEO_MAP, 'qualified_name="orangecontrib.nothere.'
                                                    'widgets.owthing.OWThing" '
                                                    'project_name="Orange3-Nothere"'),
                       "widget Geo Map from add-on Orange3-Nothere is not installed"),
    "missing-node": (lambda s: s.replace('source_node_id="3" sink_node_id="6"',
                                         'source_node_id="3" sink_node_id="99"'),
                     "a link to node 99, which the workflow does not have"),
    "bad-settings": (lambda s: s.replace('<properties node_id="1" format="pickle">',
                                         '<properties node_id="1" format="pickle">AAAA'),
                     "the settings of EXIF Geotag cannot be read"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_WORKFLOWS))
def test_broken_workflow_is_one_line_error(tmp_path, capsys, kind):
    edit, expected = BROKEN_WORKFLOWS[kind]
    if kind != "other-xml":  # the shipped file must still hold what the edit replaces
        assert edit(_shipped()) != _shipped()
    path = _write(tmp_path, edit(_shipped()))
    assert main(["-q", "workflow", path]) == 1
    err = one_line_error(capsys, "workflow")
    assert expected in err and "broken.ows" in err


def _without_photos(text):
    """The workflow's Import Images pointed at a folder that does not exist (as on a
    classroom machine where the photos were not copied)."""
    import base64
    import re

    def edit(match):
        props = pickle.loads(base64.b64decode(match.group(2)))
        for recent in props.get("recent_paths", []):
            recent.abspath, recent.relpath = "/nonexistent/photos", "photos-not-copied"
        return match.group(1) + base64.encodebytes(pickle.dumps(props)).decode() \
            + match.group(3)
    return re.sub(r'(<properties node_id="\d+" format="pickle">)(.*?)(</properties>)', edit,
                  text, flags=re.S)


def run_workflow(path):
    """``geophoto workflow`` in a fresh process: a run builds widgets on Qt's application,
    which one test process shares badly between runs."""
    done = subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", "-q",
                           "workflow", path], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT, "QT_QPA_PLATFORM": "offscreen"})
    return done.returncode, done.stdout


def test_source_widget_without_data_fails_the_check(tmp_path):
    code, out = run_workflow(_write(tmp_path, _without_photos(_shipped())))
    assert code == 1, out
    lines = [line for line in out.splitlines() if ": error: " in line]
    assert len(lines) == 1, out
    assert lines[0].startswith("Import Images: error: sent no data")
    assert "photos-not-copied" in lines[0]


# --- offline unless asked -------------------------------------------------------------------

@pytest.fixture
def network_blocked(monkeypatch):
    """Every connection and name lookup in this process raises, and is recorded: a path
    that swallowed the error would still show up in the list."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:2] or args[:1])
        raise OSError("network blocked by the test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_offline_commands_finish_with_the_network_blocked(tmp_path, network_blocked):
    tags, places = str(tmp_path / "tags.pkl"), str(tmp_path / "places.csv")
    assert main(["-q", "exif", SAMPLE_PHOTOS, "-o", tags]) == 0
    assert main(["-q", "geocode", tags, "-o", places]) == 0
    assert main(["-q", "kml", places, "-o", str(tmp_path / "photos.kmz")]) == 0
    assert main(["-q", "embed", SAMPLE_PHOTOS, "-o", str(tmp_path / "emb.csv")]) == 0
    assert main(["-q", "photos2kml", SAMPLE_PHOTOS, "-o", str(tmp_path / "p.kml")]) == 0
    assert os.path.getsize(tmp_path / "photos.kmz") > 0
    assert network_blocked == []


def test_the_online_option_is_what_reaches_the_network(network_blocked):
    """The guard above sees real attempts: the opt-in Nominatim client makes one (its
    back-off pauses skipped)."""
    from orangecontrib.geophoto.geocode.online import OnlineGeocoder
    with pytest.raises(Exception):
        OnlineGeocoder(sleep=lambda seconds: None).lookup(45.434, 12.338)
    assert network_blocked


def test_every_photo_unreadable_fails_the_check(tmp_path):
    """A classroom copy whose photos were cut short: every widget warns about every row,
    which leaves nothing to work on, so the check fails and names the widgets."""
    os.mkdir(tmp_path / "photos")
    for photo in sample_photo_paths():
        with open(photo, "rb") as f:
            head = f.read(300)
        (tmp_path / "photos" / os.path.basename(photo)).write_bytes(head)
    code, out = run_workflow(_write(tmp_path, _shipped(), "photos-to-google-earth.ows"))
    assert code == 1, out
    errors = [line for line in out.splitlines() if ": error: " in line]
    n = len(sample_photo_paths())
    assert errors[0].startswith(f"EXIF Geotag: error: nothing to work on: {n} files "
                                "unreadable")
    assert f"Local Embedder: error: nothing to work on: {n} unreadable photos" \
        in "\n".join(errors)
