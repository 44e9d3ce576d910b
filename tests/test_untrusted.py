"""Untrusted models, tables and workflows: a hostile or broken file is refused with one
clear line, never loaded from outside where it claims to live, never a traceback; the
offline commands finish with the network blocked."""
import json
import os
import pickle
import shutil
import socket

import pytest

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
