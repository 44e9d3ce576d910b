"""KML Export widget: Orange's save-widget face over ``orangecontrib.geophoto.export``.

OWSaveBase gives the file dialog, the format filters, the relative path kept with the
workflow and auto-save on new data; its ``do_save`` is only expected to start saving, so it
starts the export on a worker thread (ConcurrentWidgetMixin) with a progress bar. A new
input, a new save or closing the widget cancels a running export, and a cancelled export
leaves no file (the core writes a temporary file and renames it only when complete).
"""
import os
from typing import List, Optional

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QComboBox, QListView, QPushButton

from Orange.data import Table, Variable
from Orange.widgets import gui
from Orange.widgets.settings import ContextSetting, DomainContextHandler, Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.itemmodels import VariableListModel
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.save.owsavebase import OWSaveBase
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg

from orangecontrib.geophoto.export import ExportOptions, ExportSummary, export
from orangecontrib.geophoto.export.privacy import position_status
from orangecontrib.geophoto.export.table import (
    template_fields, visible_columns,
)
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_image_column
from orangecontrib.geophoto.widgets.common import RunControls, reporting_progress

MAX_GROUPS = 60  # a string column with more distinct values is no use as folders


def run_export(data: Table, path: str, options: ExportOptions, placemarks: int,
               state: TaskState) -> ExportSummary:
    return export(data, path, options,
                  on_progress=reporting_progress(state, "Exporting", placemarks),
                  should_stop=state.is_interruption_requested)


def group_candidates(data: Optional[Table]) -> List[Variable]:
    """Discrete columns, and text columns with few values (place, country, name)."""
    if data is None:
        return []
    image_var = find_image_column(data)
    result = []
    for var in (*data.domain.variables, *data.domain.metas):
        if var.attributes.get("hidden") or var is image_var:
            continue
        if var.is_discrete or var.is_string and len(data) and \
                len(set(data.get_column(var))) <= MAX_GROUPS:
            result.append(var)
    return result




def template_problem(template: str, names) -> Optional[str]:
    """Why a name template can not be used with these column names, else None."""
    try:
        fields = template_fields(template)
    except ValueError:
        return "A { in Name is not closed."
    unknown = next((f for f in fields if f not in names), None)
    if unknown is None:
        return None
    if not unknown:
        return "Name: put a column in { }."
    short = unknown if len(unknown) <= 10 else unknown[:9] + "…"
    return f"Name: no column '{short}'."


class OWKMLExport(OWSaveBase, RunControls, ConcurrentWidgetMixin):
    name = "KML Export"
    description = ("Photos as Google Earth placemarks (KML/KMZ with thumbnails), "
                   "GeoJSON, GeoParquet or GeoPackage.")
    icon = "icons/KMLExport.svg"
    priority = 50
    keywords = ("kml, kmz, google earth, export, geojson, geoparquet, parquet, geopackage, "
                "map, placemark")

    filters = ["Google Earth KMZ, with thumbnails (*.kmz)", "Google Earth KML (*.kml)",
               "GeoJSON (*.geojson)", "GeoParquet (*.parquet)", "GeoPackage (*.gpkg)"]

    class Inputs:
        data = Input("Data", Table)

    # one short sentence each, to fit the widget's width; details go in the Info box
    class Error(OWSaveBase.Error):
        no_coordinates = Msg("No latitude/longitude columns.")
        export_failed = Msg("Export failed; see Info.")

    class Warning(OWSaveBase.Warning):
        without_position = Msg("{} without a position.")
        impossible = Msg("Impossible coordinates: {}.")
        thumbnails = Msg("{} thumbnails failed; see Info.")
        template = Msg("{}")  # template_problem(): short sentences

    class Information(OWSaveBase.Information):
        predicted = Msg("{} predicted.")

    settings_version = 2
    settingsHandler = DomainContextHandler()
    name_template = Setting("")
    group_var: Optional[Variable] = ContextSetting(None)
    balloon_vars: List[Variable] = ContextSetting([])
    thumbnail_size = Setting(320)
    time_line = Setting(False)
    uncertainty_circles = Setting(True)
    privacy = Setting(0)  # 0: exact, 1: grid, 2: nearest place
    privacy_grid_m = Setting(1000)

    def __init__(self):
        OWSaveBase.__init__(self, start_row=3)
        ConcurrentWidgetMixin.__init__(self)
        self.summary: Optional[ExportSummary] = None
        self.n_located = 0
        box = gui.vBox(None, "Placemarks")
        self.grid.addWidget(box, 0, 0, 1, 2)
        self.template_edit = gui.lineEdit(
            box, self, "name_template", label="Name:", orientation="horizontal",
            placeholderText="name, place or file name", callback=self._options_changed,
            tooltip="A template over columns, as {place} – {time (UTC)}; empty: the "
                    "name column, else the place, else the file name.")
        self.template_edit.textChanged.connect(self._check_template)
        self.column_combo = QComboBox(
            toolTip="Insert a column into the name template as {column}")
        self.column_combo.activated.connect(self._insert_column)
        gui.widgetBox(box, orientation="horizontal").layout().addWidget(self.column_combo)
        self.group_model = VariableListModel(placeholder="(no folders)")
        self.group_combo = gui.comboBox(box, self, "group_var", label="Folders by:",
                                        orientation="horizontal", model=self.group_model,
                                        callback=self._options_changed)
        gui.spin(box, self, "thumbnail_size", 0, 1600, step=40,
                 label="Thumbnail size (px, 0: none):", callback=self._options_changed)
        gui.checkBox(box, self, "time_line", "Line joining photos in time order",
                     callback=self._options_changed)
        gui.checkBox(box, self, "uncertainty_circles",
                     "Uncertainty circles of predicted positions",
                     callback=self._options_changed)
        balloon = gui.vBox(None, "Balloon columns (none selected: all)")
        self.grid.addWidget(balloon, 1, 0, 1, 2)
        self.balloon_model = VariableListModel()
        self.balloon_view = gui.listView(
            balloon, self, "balloon_vars", model=self.balloon_model,
            selectionMode=QListView.ExtendedSelection, callback=self._options_changed)
        self.balloon_view.setMaximumHeight(110)
        privacy = gui.radioButtons(None, self, "privacy", box="Privacy",
                                   callback=self._options_changed)
        self.grid.addWidget(privacy, 2, 0, 1, 2)
        gui.appendRadioButton(privacy, "Exact positions")
        gui.appendRadioButton(privacy, "Coarsen to a grid of:")
        gui.spin(gui.indentedBox(privacy), self, "privacy_grid_m", 10, 100_000, step=100,
                 suffix=" m", alignment=Qt.AlignRight, callback=self._options_changed)
        gui.appendRadioButton(privacy, "Move to the nearest place (GeoNames)")
        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        self.info_label.setWordWrap(True)
        self.progress_noun = "placemark"
        self.add_run_controls(auto_apply=False)
        # Enter in the name template must not press Save (and open a file dialog)
        for button in self.buttonsArea.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        self._fill_column_combo()

    @classmethod
    def migrate_settings(cls, settings, version):
        super().migrate_settings(settings, version)
        if version is None or version < 2:  # the group column became a context setting
            settings.pop("group_column", None)

    def _options_changed(self):
        self.Error.export_failed.clear()  # it was about the options before this change
        if self.auto_save and self.filename and self.data is not None:
            self.save_file()

    def _fill_column_combo(self):
        self.column_combo.clear()
        names = [v.name for v in visible_columns(self.data)] if self.data is not None else []
        self.column_combo.addItem("Insert column…" if names else "(no columns)")
        self.column_combo.addItems(names)
        self.column_combo.setEnabled(bool(names))

    def _insert_column(self, index: int):
        if index > 0:
            self.template_edit.insert("{" + self.column_combo.itemText(index) + "}")
            self.template_edit.editingFinished.emit()  # store it, save if automatic
        self.column_combo.setCurrentIndex(0)

    def _check_template(self, text: str = None):
        """Warn while typing about a column that does not exist."""
        text = self.template_edit.text() if text is None else text
        problem = None
        if self.data is not None and text.strip():
            problem = template_problem(text.strip(), {v.name for v in (
                *self.data.domain.variables, *self.data.domain.metas)})
        self.Warning.template(problem, shown=problem is not None)
        if problem is None and self.Error.export_failed.is_shown() and \
                text.strip() == self.name_template.strip():
            self.Error.export_failed.clear()

    @Inputs.data
    def set_data(self, data: Optional[Table]):
        self.cancel()
        self.closeContext()
        self.data = data
        self.summary = None
        self.group_model[:] = [None] + group_candidates(data)
        self.balloon_model[:] = visible_columns(data) if data is not None else []
        self.group_var, self.balloon_vars = None, []
        if data is not None:
            self.openContext(data)
        self._fill_column_combo()
        self.on_new_input()

    def update_messages(self):
        super().update_messages()
        if not hasattr(self, "info_label"):  # OWSaveBase.__init__ calls this early
            return
        self.Error.no_coordinates.clear()
        self.Warning.without_position.clear()
        self.Warning.impossible.clear()
        self.Information.predicted.clear()
        self._check_template()
        self.n_located = 0
        if self.data is None:
            self.info_label.setText("No data.")
            return
        try:
            _, _, predicted, valid, missing = position_status(self.data)
        except ValueError:
            self.Error.no_coordinates()
            self.info_label.setText("Nothing to export: no coordinates.")
            return
        valid_or_missing = valid | missing
        impossible, missing = int((~valid_or_missing).sum()), int(missing.sum())
        self.n_located = n = int(valid.sum())
        self.Warning.without_position(f"{missing:,} {pl(missing, 'row')}",
                                      shown=missing > 0)
        self.Warning.impossible(f"{impossible:,}", shown=impossible > 0)
        guessed = int(predicted.sum())
        self.Information.predicted(f"{guessed:,} {pl(guessed, 'position')}",
                                   shown=guessed > 0)
        left_out = [f"{count:,} {pl(count, 'row')} {why}" for count, why in (
            (missing, "without a position"), (impossible, "with impossible coordinates"))
            if count]
        self.info_label.setText(f"{n:,} {pl(n, 'placemark')} to export" + (
            f"; left out: {', '.join(left_out)}." if left_out else "."))

    def options(self) -> ExportOptions:
        return ExportOptions(
            name_template=self.name_template.strip(),
            group=self.group_var.name if self.group_var is not None else None,
            thumbnail_size=self.thumbnail_size, time_line=self.time_line,
            balloon_columns=[v.name for v in self.balloon_vars] or None,
            uncertainty_circles=self.uncertainty_circles,
            privacy_grid_m=self.privacy_grid_m if self.privacy == 1 else 0,
            privacy_to_place=self.privacy == 2,
            document_name=self.document_name())

    def document_name(self) -> str:
        """The name Google Earth shows for the file: the file's own name, else the data's."""
        if self.filename:
            return os.path.splitext(os.path.basename(self.filename))[0]
        return getattr(self.data, "name", "") or "Photos"

    def do_save(self):
        self.Error.export_failed.clear()
        self.Warning.thumbnails.clear()
        if self.Error.no_coordinates.is_shown():
            return
        self.run(run_export, self.data, self.filename, self.options(), self.n_located,
                 total=self.n_located)

    def on_done(self, summary: ExportSummary):
        self.summary = summary
        placemarks = f"{summary.placemarks:,} {pl(summary.placemarks, 'placemark')}"
        text = f"Saved {placemarks} to {summary.path}."
        if summary.thumbnails_failed:
            text += (f" Thumbnails: {summary.thumbnails_failed:,} of {summary.photos:,} "
                     "photos could not be read.")
        self.info_label.setText(text)
        self.Warning.thumbnails(f"{summary.thumbnails_failed:,}",
                                shown=summary.thumbnails_failed > 0)

    def on_exception(self, ex: Exception):
        if not isinstance(ex, Cancelled):
            self.Error.export_failed()
            self.info_label.setText(f"Export failed: {ex}")

    def after_cancel(self) -> str:
        kept = " (the previous file is kept)" if os.path.exists(self.filename) else ""
        return f"nothing saved{kept}. Press Save to export again."

    def send_report(self):
        self.report_items((
            ("File", self.filename or "not set"),
            ("Name template", self.name_template or "default"),
            ("Folders by", self.group_var.name if self.group_var is not None else "none"),
            ("Thumbnails", f"{self.thumbnail_size} px" if self.thumbnail_size else "none"),
            ("Balloon columns", ", ".join(v.name for v in self.balloon_vars) or "all"),
            ("Time line", "yes" if self.time_line else "no"),
            ("Uncertainty circles", "yes" if self.uncertainty_circles else "no"),
            ("Privacy", ["exact positions", f"grid of {self.privacy_grid_m} m",
                         "nearest GeoNames place"][self.privacy])))
        if self.summary is not None:
            self.report_paragraph(
                "Last export", f"{self.summary.placemarks} placemarks "
                f"({self.summary.predicted} predicted), "
                f"{self.summary.without_position} rows without a position and "
                f"{self.summary.impossible} with impossible coordinates left out")

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWKMLExport).run(geotag_table(table_from_paths(sample_photo_paths())))
