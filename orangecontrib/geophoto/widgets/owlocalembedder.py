"""Local Embedder widget: a thin Qt face over ``orangecontrib.geophoto.embedders``."""
import os
import re
from typing import Optional

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QFileDialog, QStyle

from Orange.data import Table
from Orange.widgets import gui
from Orange.widgets.settings import ContextSetting, DomainContextHandler, Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg, Output, OWWidget

from orangecontrib.geophoto.embedders import (
    BUILTIN, EmbedResult, ModelError, embed_table, load_model, tensorflow_problem,
)
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.widgets.common import (
    Progress, RunControls, image_column_combo, reporting_progress, set_image_data,
)

CUSTOM = "custom"
MODEL_KEYS = list(BUILTIN) + [CUSTOM]
MODEL_LABELS = [BUILTIN[k].label for k in BUILTIN] + ["Your own model (file or folder)…"]
# SqueezeNet's feature layers, as (label, tooltip); labels short enough for the narrow box
SQUEEZENET_LAYERS = [("1000 (as Image Analytics)", "pool10: the pooled last convolution, the "
                      "same features as Image Analytics' SqueezeNet"),
                     ("512 (for similar photos)", "fire9: the pooled last fire module; "
                      "finds look-alike photos and places better")]
NO_OUTPUT = "No output: see the message below; hover over it for details."
PREVIEW_ROWS = 3  # photos whose top labels the Info box shows


def run_embedding(data: Table, image_var, model: str, layer: Optional[str], top_k: int,
                  batch_size: int, state: TaskState) -> EmbedResult:
    """The widget's worker: load the model (seconds, once per session) and embed."""
    state.set_status("Loading model…")
    state.set_partial_result(Progress("Loading the model", 0))
    loaded = load_model(model, layer or None)
    state.set_status(f"Embedding with {loaded.name}…")
    return embed_table(data, image_var, loaded, top_k=top_k, batch_size=batch_size,
                       on_progress=reporting_progress(state, "Embedding", len(data)),
                       should_stop=state.is_interruption_requested)


def short_error(ex: ModelError) -> str:
    """One short sentence for the message bar: the error's own short form, else its first
    clause without the path in front; the full text is shown on hover."""
    if ex.short:
        return ex.short
    text = str(ex)
    head, sep, rest = text.partition(": ")
    if sep and (os.sep in head or "/" in head or os.path.splitext(head)[1]):
        text = rest
    text = re.split(r" \(|; |: ", text, maxsplit=1)[0].rstrip(".")
    text = text[:1].upper() + text[1:] + "."
    return text if len(text) <= 30 else "Not a usable model."


class OWLocalEmbedder(OWWidget, RunControls, ConcurrentWidgetMixin):
    name = "Local Embedder"
    description = ("Image embeddings and ImageNet labels from TensorFlow models run on "
                   "this computer, offline.")
    icon = "icons/LocalEmbedder.svg"
    priority = 20
    keywords = "embedding, image, tensorflow, keras, squeezenet, resnet, lobe, labels, local"
    want_main_area = False
    resizing_enabled = False

    class Inputs:
        data = Input("Images", Table, default=True)

    class Outputs:
        embeddings = Output("Embeddings", Table, default=True)
        skipped = Output("Skipped Images", Table)
        labels = Output("Labels", Table)

    # Each message's first line fits the narrow window; what follows a newline (the file,
    # the folder, what to do) shows when the user hovers over or clicks the message.
    class Error(OWWidget.Error):
        no_image_column = Msg("The data has no image column.")
        tensorflow = Msg("TensorFlow cannot be loaded.\n{}")
        model = Msg("{}\n{}")
        failed = Msg("Embedding failed.\n{}: {}")
        no_custom_model = Msg("Choose a model file or folder.")

    class Warning(OWWidget.Warning):
        skipped = Msg("{} unreadable {}.\n"
                      "The Skipped Images output lists them, each with the reason.")

    settings_version = 2  # 2: fire9 is the default layer
    settingsHandler = DomainContextHandler()
    image_var = ContextSetting(None)
    model_index = Setting(0)
    custom_path = Setting("", schema_only=True)
    squeezenet_layer = Setting(1)  # 0: pool10, 1: fire9, the default (bench/layers.md)
    custom_layer = Setting("")
    top_k = Setting(5)
    batch_size = Setting(32)
    auto_apply = Setting(True)

    @classmethod
    def migrate_settings(cls, settings, version):
        """Workflows saved by 0.1 keep the layer they ran with (pool10 was the default)."""
        if version is None or version < 2:
            settings.setdefault("squeezenet_layer", 0)

    def __init__(self):
        OWWidget.__init__(self)
        ConcurrentWidgetMixin.__init__(self)
        self.data: Optional[Table] = None
        self.result: Optional[EmbedResult] = None

        image_column_combo(self, self.controlArea)

        box = gui.vBox(self.controlArea, "Model")
        gui.comboBox(box, self, "model_index", items=MODEL_LABELS,
                     callback=self._model_changed)
        self.model_description = gui.widgetLabel(box, "")
        self.model_description.setWordWrap(True)
        self.squeezenet_box = gui.hBox(box)
        combo = gui.comboBox(self.squeezenet_box, self, "squeezenet_layer",
                             label="Features:", items=[t for t, _ in SQUEEZENET_LAYERS],
                             callback=self.commit.deferred)
        for i, (_, tip) in enumerate(SQUEEZENET_LAYERS):
            combo.setItemData(i, tip, Qt.ToolTipRole)
        self.custom_box = gui.vBox(box)
        row = gui.hBox(self.custom_box)
        gui.lineEdit(row, self, "custom_path", placeholderText="Model file or folder…",
                     callback=self.commit.deferred)
        for label, icon, folder in (("File", QStyle.SP_FileIcon, False),
                                    ("Folder", QStyle.SP_DirOpenIcon, True)):
            button = gui.button(row, self, "", autoDefault=False, width=30,
                                callback=lambda f=folder: self._browse(f))
            button.setIcon(self.style().standardIcon(icon))
            button.setToolTip(f"Choose a model {label.lower()}")
        gui.lineEdit(self.custom_box, self, "custom_layer", label="Layer or output:",
                     orientation="horizontal", placeholderText="default (penultimate)",
                     callback=self.commit.deferred)

        box = gui.vBox(self.controlArea, "Options")
        gui.spin(box, self, "top_k", 0, 20, label="Labels per photo:",
                 callback=self.commit.deferred, controlWidth=60)
        gui.spin(box, self, "batch_size", 1, 256, label="Batch size:",
                 callback=self.commit.deferred, controlWidth=60)
        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        self.info_label.setWordWrap(True)
        self.add_run_controls()
        self._update_model_controls()

    # --- controls ----------------------------------------------------------------------
    @property
    def model_key(self) -> str:
        return MODEL_KEYS[min(self.model_index, len(MODEL_KEYS) - 1)]

    def _model_changed(self):
        self._update_model_controls()
        self.commit.deferred()

    def _update_model_controls(self):
        key = self.model_key
        self.squeezenet_box.setVisible(key == "squeezenet")
        self.custom_box.setVisible(key == CUSTOM)
        self.model_description.setText(
            BUILTIN[key].description if key in BUILTIN else
            "A Lobe export folder, a .keras/.h5 or .tflite file, or a SavedModel folder.")

    def _browse(self, folder: bool):
        start = os.path.dirname(self.custom_path) if self.custom_path else os.path.expanduser("~")
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Model Folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Model File", start, "Models (*.keras *.h5 *.hdf5 *.tflite);;All (*)")
        if path:
            self.custom_path = path
            self.commit.deferred()

    def _model_and_layer(self):
        key = self.model_key
        if key == "squeezenet":
            return key, ("pool10", "fire9")[self.squeezenet_layer]
        if key == CUSTOM:
            return self.custom_path, self.custom_layer.strip() or None
        return key, None

    # --- inputs and work ---------------------------------------------------------------
    @Inputs.data
    def set_data(self, data: Optional[Table]):
        set_image_data(self, data)
        self.commit.now()

    @gui.deferred
    def commit(self):
        self.Error.clear()
        self.Warning.skipped.clear()
        self.cancel()
        self.clear_outputs()
        if self.data is not None and self.image_var is None:
            self.Error.no_image_column()
        self.info_label.setText("No data." if self.data is None or not len(self.data) else
                                NO_OUTPUT)
        if self.data is None or self.image_var is None or not len(self.data):
            return
        problem = tensorflow_problem()
        if problem:
            self.Error.tensorflow(problem)
            return
        model, layer = self._model_and_layer()
        if not model:
            self.Error.no_custom_model()
            return
        self.run(run_embedding, self.data, self.image_var, model, layer, self.top_k,
                 self.batch_size)

    def on_done(self, result: EmbedResult):
        self.result = result
        n_skipped = 0 if result.skipped is None else len(result.skipped)
        self.Warning.skipped(f"{n_skipped:,}", pl(n_skipped, "photo"), shown=n_skipped > 0)
        self.info_label.setText(self._summary(result))
        self._send(result)

    def _summary(self, result: EmbedResult) -> str:
        """How many photos, how many features, and the first photos' top labels."""
        n, n_skipped = len(self.data), 0 if result.skipped is None else len(result.skipped)
        dim = 0 if result.embeddings is None else \
            len(result.embeddings.domain.attributes) - len(self.data.domain.attributes)
        lines = [f"{n - n_skipped:,} of {n:,} {pl(n, 'photo')} embedded, {dim} features."]
        labels = result.labels
        if labels is not None and "label 1" in labels.domain:
            names = labels.get_column(self.image_var)
            tops = [labels.get_column(f"label {j}") for j in (1, 2) if f"label {j}" in
                    labels.domain]
            rows = [i for i in range(len(labels)) if tops[0][i]][:PREVIEW_ROWS]
            if rows:
                lines.append("Top labels:")
            for i in rows:
                name = os.path.basename(str(names[i]))
                name = name if len(name) <= 18 else name[:17] + "…"
                lines.append(f"  {name}: " + ", ".join(t[i] for t in tops if t[i]))
        return "\n".join(lines)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        if isinstance(ex, ModelError):
            self.Error.model(short_error(ex), str(ex))
        else:
            self.Error.failed(type(ex).__name__, str(ex))
        self.info_label.setText(NO_OUTPUT)
        self.clear_outputs()

    def clear_outputs(self):
        self.result = None
        self._send(None)

    def _send(self, result: Optional[EmbedResult]):
        self.Outputs.embeddings.send(result and result.embeddings)
        self.Outputs.skipped.send(result and result.skipped)
        self.Outputs.labels.send(result and result.labels)

    def send_report(self):
        model, layer = self._model_and_layer()
        items = [("Model", MODEL_LABELS[self.model_index] if self.model_key != CUSTOM
                  else self.custom_path or "none"),
                 ("Features", layer or "default"),
                 ("Labels per photo", self.top_k)]
        if self.image_var is not None:
            items.insert(0, ("Image column", self.image_var.name))
        self.report_items("Settings", items)
        self.report_paragraph("Result", self.info_label.text())

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWLocalEmbedder).run(table_from_paths(sample_photo_paths()))
