"""KML Export widget: Orange's save-widget face over ``orangecontrib.geophoto.export``.

OWSaveBase gives the file dialog, the format filters, the relative path kept with the
workflow and auto-save on new data; its ``do_save`` is only expected to start saving, so it
starts the export on a worker thread (ConcurrentWidgetMixin) with a progress bar. A new
input, a new save or closing the widget cancels a running export, and a cancelled export
leaves no file (the core writes a temporary file and renames it only when complete).
"""
from typing import List, Optional

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QListView

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
from orangecontrib.geophoto.export.table import visible_columns
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_image_column

MAX_GROUPS = 60  # a string column with more distinct values is no use as folders


def run_export(data: Table, path: str, options: ExportOptions,
               state: TaskState) -> ExportSummary:
    return export(data, path, options,
                  on_progress=lambda f: state.set_progress_value(100 * f),
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


class OWKMLExport(OWSaveBase, ConcurrentWidgetMixin):
    name = "KML Export"
    description = ("Photos as Google Earth placemarks (KML/KMZ with thumbnails), "
                   "GeoJSON or GeoPackage.")
    icon = "icons/KMLExport.svg"
    priority = 50
    keywords = "kml, kmz, google earth, export, geojson, geopackage, map, placemark"

    filters = ["Google Earth KMZ, with thumbnails (*.kmz)", "Google Earth KML (*.kml)",
               "GeoJSON (*.geojson)", "GeoPackage (*.gpkg)"]

    class Inputs:
        data = Input("Data", Table)

    class Error(OWSaveBase.Error):
        no_coordinates = Msg("Data has no latitude and longitude columns.")
        export_failed = Msg("Export failed: {}")

    class Warning(OWSaveBase.Warning):
        without_position = Msg("{} without a position will not be on the map.")
        impossible = Msg("{} with impossible coordinates left off the map.")
        thumbnails = Msg("Thumbnails: {} of {} photos could not be read.")

    class Information(OWSaveBase.Information):
        saved = Msg("Saved {} to {}.")
        predicted = Msg("{} at a predicted position (with its uncertainty circle).")

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
        box = gui.vBox(None, "Placemarks")
        self.grid.addWidget(box, 0, 0, 1, 2)
        gui.lineEdit(box, self, "name_template", label="Name template:",
                     orientation="horizontal",
                     placeholderText="default: {name}, else {place}, else file name",
                     callback=self._options_changed)
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
        self.balloon_view.setMaximumHeight(140)
        privacy = gui.radioButtons(None, self, "privacy", box="Privacy",
                                   callback=self._options_changed)
        self.grid.addWidget(privacy, 2, 0, 1, 2)
        gui.appendRadioButton(privacy, "Exact positions")
        gui.appendRadioButton(privacy, "Coarsen to a grid of:")
        gui.spin(gui.indentedBox(privacy), self, "privacy_grid_m", 10, 100_000, step=100,
                 suffix=" m", alignment=Qt.AlignRight, callback=self._options_changed)
        gui.appendRadioButton(privacy, "Move to the nearest place (GeoNames)")

    @classmethod
    def migrate_settings(cls, settings, version):
        super().migrate_settings(settings, version)
        if version is None or version < 2:  # the group column became a context setting
            settings.pop("group_column", None)

    def _options_changed(self):
        if self.auto_save and self.filename and self.data is not None:
            self.save_file()

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
        self.on_new_input()

    def update_messages(self):
        super().update_messages()
        self.Error.no_coordinates.clear()
        self.Warning.without_position.clear()
        self.Warning.impossible.clear()
        self.Information.predicted.clear()
        if self.data is None:
            return
        try:
            _, _, predicted, valid, missing = position_status(self.data)
        except ValueError:
            self.Error.no_coordinates()
            return
        impossible, missing = int((~valid & ~missing).sum()), int(missing.sum())
        self.Warning.without_position(f"{missing} {pl(missing, 'row')}", shown=missing > 0)
        self.Warning.impossible(f"{impossible} {pl(impossible, 'row')}", shown=impossible > 0)
        guessed = int(predicted.sum())
        self.Information.predicted(f"{guessed} {pl(guessed, 'photo')}", shown=guessed > 0)

    def options(self) -> ExportOptions:
        return ExportOptions(
            name_template=self.name_template.strip(),
            group=self.group_var.name if self.group_var is not None else None,
            thumbnail_size=self.thumbnail_size, time_line=self.time_line,
            balloon_columns=[v.name for v in self.balloon_vars] or None,
            uncertainty_circles=self.uncertainty_circles,
            privacy_grid_m=self.privacy_grid_m if self.privacy == 1 else 0,
            privacy_to_place=self.privacy == 2,
            document_name=getattr(self.data, "name", "") or "Photos")

    def do_save(self):
        self.Error.export_failed.clear()
        self.Information.saved.clear()
        self.Warning.thumbnails.clear()
        if self.Error.no_coordinates.is_shown():
            return
        self.start(run_export, self.data, self.filename, self.options())

    def on_done(self, summary: ExportSummary):
        self.summary = summary
        self.Information.saved(f"{summary.placemarks} {pl(summary.placemarks, 'placemark')}",
                               summary.path)
        self.Warning.thumbnails(summary.thumbnails_failed, summary.photos,
                                shown=summary.thumbnails_failed > 0)

    def on_exception(self, ex: Exception):
        if not isinstance(ex, Cancelled):
            self.Error.export_failed(str(ex))

    def on_partial_result(self, _):
        pass

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
