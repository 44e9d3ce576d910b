"""Your own model: a Lobe export folder (signature.json with a SavedModel or TFLite file),
a ``.keras``/``.h5`` file (loaded with Keras' safe mode: no arbitrary code), a SavedModel
folder, or a ``.tflite`` file.

Input convention: Lobe exports take RGB scaled to [0, 1], as their signature says; other
models get RGB in 0..255 floats and are expected to carry their own preprocessing (e.g. a
Rescaling layer), as Keras recommends.
"""
import hashlib
import json
import os
from typing import List, Optional

import numpy as np

from orangecontrib.geophoto.embedders.models import LoadedModel, ModelError


def load_custom(path: str, layer: Optional[str] = None) -> LoadedModel:
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "signature.json")):
            return load_lobe(path, layer)
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            return load_saved_model(path, layer)
        raise ModelError(f"{path}: a folder without signature.json (Lobe) or saved_model.pb "
                         "(SavedModel)")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".keras", ".h5", ".hdf5"):
        return load_keras_file(path, layer)
    if ext == ".tflite":
        return load_tflite(path, layer, None, scale=255.0)
    raise ModelError(f"{path}: not a model (expected a .keras, .h5 or .tflite file, a "
                     "SavedModel folder or a Lobe export folder)")


def _fingerprint(path: str) -> str:
    """Cache identity of a model file or folder: its content."""
    digest = hashlib.sha1()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, f) for root, _, names in os.walk(path) for f in names)
    for name in files:
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _image_size(shape, where) -> tuple:
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None \
            or int(shape[1]) <= 0 or int(shape[2]) <= 0:
        raise ModelError(f"{where}: the model's input size cannot be found (input shape "
                         f"{None if shape is None else list(shape)}; an image model takes "
                         "(batch, height, width, 3))")
    if shape[3] not in (3, None):
        raise ModelError(f"{where}: the model takes {shape[3]} channels, not RGB images")
    return int(shape[2]), int(shape[1])  # (width, height)


# --- Keras files ---------------------------------------------------------------------------

def load_keras_file(path: str, layer: Optional[str]) -> LoadedModel:
    import keras
    import tensorflow as tf
    try:
        network = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (TypeError, ValueError) as ex:
        text = str(ex)
        if "arbitrary code execution" in text:
            raise ModelError(f"{os.path.basename(path)}: refused: its Lambda layer holds "
                             "Python code, which Keras' safe mode does not run (open only "
                             "models you trust)") from ex
        if "Unknown" in text or "custom" in text.lower() or "Could not locate" in text:
            raise ModelError(f"{os.path.basename(path)} uses a custom layer or function that "
                             f"is not available here ({text.splitlines()[0][:200]})") from ex
        raise ModelError(f"{os.path.basename(path)}: not a loadable Keras model "
                         f"({text.splitlines()[0][:200] if text else type(ex).__name__})") \
            from ex
    except OSError as ex:
        raise ModelError(f"{os.path.basename(path)}: not a model file ({ex})") from ex
    size = _image_size(network.input_shape if not isinstance(network.input_shape, list)
                       else None, os.path.basename(path))
    layer_names = [layer.name for layer in network.layers[1:]]
    last = network.layers[-1]
    is_classifier = getattr(last, "activation", None) is keras.activations.softmax
    if layer is None:
        feature_tensor = last.input if is_classifier and len(network.layers) > 2 \
            else network.output
        layer = network.layers[-2].name if is_classifier else last.name
    else:
        try:
            feature_tensor = network.get_layer(layer).output
        except ValueError:
            raise ModelError(f"the model has no layer '{layer}'; layers: "
                             + ", ".join(layer_names)) from None
    outputs = {"features": feature_tensor}
    if is_classifier:
        outputs["probabilities"] = network.output
    both = keras.Model(network.input, outputs)
    n_classes = int(network.output.shape[-1]) if is_classifier else 0

    @tf.function(reduce_retracing=True)
    def call(images):
        return both(tf.cast(images, tf.float32), training=False)

    def predict(images):
        out = call(tf.convert_to_tensor(images, tf.uint8))
        feats = out["features"].numpy().reshape(len(images), -1)
        probs = out["probabilities"].numpy() if is_classifier else None
        return feats, probs

    dim = int(np.prod(feature_tensor.shape[1:]))
    names = [f"class {i}" for i in range(n_classes)] if is_classifier else None
    return LoadedModel(os.path.basename(path), f"keras-{_fingerprint(path)}-{layer}", size,
                       dim, layer, predict, names, tuple(layer_names))


# --- SavedModel and Lobe -----------------------------------------------------------------

def _serving_signature(folder: str):
    import tensorflow as tf
    try:
        loaded = tf.saved_model.load(folder)
    except Exception as ex:  # TensorFlow raises many kinds here
        raise ModelError(f"{folder}: not a readable SavedModel ({str(ex)[:200]})") from ex
    signatures = dict(loaded.signatures)
    if not signatures:
        raise ModelError(f"{folder}: the SavedModel has no serving signature")
    signature = signatures.get("serving_default") or next(iter(signatures.values()))
    return loaded, signature


def load_saved_model(folder: str, layer: Optional[str], input_name: Optional[str] = None,
                     scale: float = 255.0, class_names: Optional[List[str]] = None,
                     probability_output: Optional[str] = None) -> LoadedModel:
    import tensorflow as tf
    loaded, signature = _serving_signature(folder)
    _, inputs = signature.structured_input_signature
    if input_name is None:
        if len(inputs) != 1:
            raise ModelError(f"{folder}: the model has {len(inputs)} inputs; an image model "
                             "has one")
        input_name = next(iter(inputs))
    if input_name not in inputs:
        raise ModelError(f"{folder}: no input named '{input_name}'")
    spec = inputs[input_name]
    size = _image_size(spec.shape.as_list(), folder)
    outputs = list(signature.structured_outputs)
    layer = layer or probability_output or outputs[0]
    if layer not in outputs:
        raise ModelError(f"the model has no output '{layer}'; outputs: " + ", ".join(outputs))

    def predict(images):
        x = tf.convert_to_tensor(images.astype(np.float32) * (scale / 255.0))
        out = signature(**{input_name: tf.cast(x, spec.dtype)})
        feats = _numeric(out[layer]).reshape(len(images), -1)
        probs = _numeric(out[probability_output]) if probability_output else None
        return feats, probs

    probe = np.zeros((1, size[1], size[0], 3), np.uint8)
    dim = predict(probe)[0].shape[1]
    predict.keep = loaded  # the signature needs its object alive
    return LoadedModel(os.path.basename(folder.rstrip("/")),
                       f"savedmodel-{_fingerprint(folder)}-{layer}", size, dim, layer,
                       predict, class_names, tuple(outputs))


def _numeric(tensor) -> np.ndarray:
    value = tensor.numpy()
    if value.dtype.kind in "SUO":
        raise ModelError("that output holds text (a predicted label), not numbers; choose "
                         "a numeric output")
    return value.astype(np.float32)


LOBE_REQUIRED = ("inputs", "outputs", "classes")


def read_signature(folder: str) -> dict:
    """signature.json, checked field by field: an export comes from anywhere, so a wrong
    type is a one-line ModelError here rather than a traceback deep in TensorFlow."""
    path = os.path.join(folder, "signature.json")
    try:
        with open(path, encoding="utf-8") as f:
            signature = json.load(f)
    except (OSError, ValueError) as ex:
        raise ModelError(f"{path}: not a readable signature.json ({ex})") from ex
    if not isinstance(signature, dict):
        raise ModelError(f"{path}: signature.json must hold an object")
    missing = [k for k in LOBE_REQUIRED if k not in signature]
    if missing:
        raise ModelError(f"{path}: signature.json lacks {', '.join(repr(m) for m in missing)}")
    inputs = signature["inputs"]
    if not isinstance(inputs, dict) or not inputs:
        raise ModelError(f"{path}: signature.json 'inputs' names no input")
    spec = next(iter(inputs.values()))
    if not isinstance(spec, dict):
        raise ModelError(f"{path}: signature.json 'inputs' must map the input's name to its "
                         "dtype and shape")
    shape = spec.get("shape")
    if shape is not None and not (
            isinstance(shape, list) and len(shape) == 4 and all(
                d is None or (type(d) is int and d > 0) for d in shape)):
        raise ModelError(f"{path}: signature.json input shape {str(shape)[:60]} is not "
                         "[batch, height, width, 3]")
    if not isinstance(signature["outputs"], dict):
        raise ModelError(f"{path}: signature.json 'outputs' must map names to outputs")
    signature["class_names"] = _class_names(signature["classes"], path)
    return signature


def _class_names(classes, path: str) -> List[str]:
    """Lobe writes ``{"Label": [names]}``; a bare list is accepted too."""
    names = next(iter(classes.values()), None) if isinstance(classes, dict) else classes
    if not isinstance(names, list) or not names or not all(
            isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in names):
        raise ModelError(f"{path}: signature.json 'classes' must list the class names")
    return [str(c) for c in names]


def _file_inside(folder: str, name, path: str) -> str:
    """The real path of the model file the signature names, refused when it leads outside
    the export folder (``..``, an absolute path or a symbolic link): loading a model must
    not read files the export does not contain."""
    if not isinstance(name, str) or not name:
        raise ModelError(f"{path}: signature.json 'filename' must name the model file")
    home = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(home, name))
    if os.path.commonpath([home, target]) != home:
        raise ModelError(f"{path}: the model file {name[:100]!r} is outside the export "
                         "folder; refused")
    if not os.path.isfile(target):
        raise ModelError(f"{path}: signature.json names {name[:100]!r}, which is not in the "
                         "export folder")
    return target


def _refuse_links_outside(folder: str, path: str) -> None:
    """A SavedModel export is read as a whole folder: none of its files may lead out."""
    home = os.path.realpath(folder)
    for root, _, names in os.walk(home):
        for name in names:
            real = os.path.realpath(os.path.join(root, name))
            if os.path.commonpath([home, real]) != home:
                raise ModelError(f"{path}: {os.path.relpath(os.path.join(root, name), home)}"
                                 " leads outside the export folder; refused")


def load_lobe(folder: str, layer: Optional[str]) -> LoadedModel:
    """A Lobe export: the image input, its ``Confidences`` output (probabilities over the
    signature's ``classes``) as labels, and any numeric output as features."""
    signature = read_signature(folder)
    path = os.path.join(folder, "signature.json")
    input_key, input_spec = next(iter(signature["inputs"].items()))
    class_names = signature["class_names"]
    probability_output = "Confidences" if "Confidences" in signature["outputs"] else None
    model_file = _file_inside(folder, signature.get("filename", "saved_model.pb"), path)
    if model_file.endswith(".tflite"):
        model = load_tflite(model_file, layer, class_names, scale=1.0,
                            probability_output=probability_output,
                            declared_shape=input_spec.get("shape"))
    else:
        _refuse_links_outside(folder, path)
        model = load_saved_model(folder, layer, input_name=input_key, scale=1.0,
                                 class_names=class_names,
                                 probability_output=probability_output)
    model.name = f"Lobe: {os.path.basename(folder.rstrip('/'))}"
    return model


# --- TFLite ------------------------------------------------------------------------------

def _tflite_outputs(interpreter) -> dict:
    """Output name -> details; names from the model's signature where it has one (as Lobe's
    exports do), else the tensor names."""
    try:
        signatures = interpreter.get_signature_list()
        if signatures:
            runner = interpreter.get_signature_runner(next(iter(signatures)))
            return dict(runner.get_output_details())
    except (ValueError, RuntimeError):
        pass
    return {d["name"]: d for d in interpreter.get_output_details()}


def load_tflite(path: str, layer: Optional[str], class_names=None, scale: float = 255.0,
                probability_output: Optional[str] = None, declared_shape=None) -> LoadedModel:
    import threading
    import tensorflow as tf
    try:
        interpreter = tf.lite.Interpreter(model_path=path)
    except (ValueError, RuntimeError) as ex:
        raise ModelError(f"{os.path.basename(path)}: not a TFLite model ({ex})") from ex
    (input_detail,) = interpreter.get_input_details()[:1]
    shape = list(input_detail["shape"])
    size = _image_size(shape if declared_shape is None else
                       [None] + list(declared_shape)[1:], os.path.basename(path))
    outputs = _tflite_outputs(interpreter)
    names = list(outputs)
    prob_name = next((n for n in names if probability_output and probability_output in n),
                     None)
    if probability_output and prob_name is None and class_names:
        # unnamed outputs (converted from a concrete function): the one output with one
        # value per class holds the probabilities
        fits = [n for n in names if outputs[n]["shape"][-1] == len(class_names)]
        prob_name = fits[0] if len(fits) == 1 else None
    layer = layer or next((n for n in names if n != prob_name), prob_name or names[0])
    if layer not in outputs:
        matches = [n for n in names if layer in n]
        if not matches:
            raise ModelError(f"the model has no output '{layer}'; outputs: " + ", ".join(names))
        layer = matches[0]
    lock = threading.Lock()

    def predict(images):
        x = images.astype(np.float32) * (scale / 255.0)
        feats, probs = [], []
        with lock:  # an interpreter is not thread-safe; TFLite runs one image at a time
            for image in x:
                interpreter.resize_tensor_input(input_detail["index"], [1, *image.shape])
                interpreter.allocate_tensors()
                interpreter.set_tensor(input_detail["index"],
                                       image[None].astype(input_detail["dtype"]))
                interpreter.invoke()
                feats.append(interpreter.get_tensor(outputs[layer]["index"]).reshape(-1))
                if prob_name:
                    probs.append(interpreter.get_tensor(outputs[prob_name]["index"])
                                 .reshape(-1))
        return (np.array(feats, np.float32),
                np.array(probs, np.float32) if prob_name else None)

    probe = np.zeros((1, size[1], size[0], 3), np.uint8)
    dim = predict(probe)[0].shape[1]
    return LoadedModel(os.path.basename(path), f"tflite-{_fingerprint(path)}-{layer}", size,
                       dim, layer, predict,
                       [str(c) for c in class_names] if class_names and prob_name else None,
                       tuple(names))
