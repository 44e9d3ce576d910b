"""KML Export widget: Orange's save-widget face over ``orangecontrib.geophoto.export``.

Writing thumbnails for many photos takes a while, so the export runs on a worker thread with
a progress bar; a new input or closing the widget cancels it, and a cancelled export leaves
no file (the core writes to a temporary file and renames it only when complete).
"""
from typing import Optional

from Orange.data import Table
from Orange.widgets import gui
from Orange.widgets.settings import Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.save.owsavebase import OWSaveBase
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg

from orangecontrib.geophoto.export import ExportOptions, ExportSummary, export, positions
from orangecontrib.geophoto.progress import Cancelled


def run_export(data: Table, path: str, options: ExportOptions,
               state: TaskState) -> ExportSummary:
    return export(data, path, options,
                  on_progress=lambda f: state.set_progress_value(100 * f),
                  should_stop=state.is_interruption_requested)


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

    class Information(OWSaveBase.Information):
        saved = Msg("Saved {} to {}.")

    name_template = Setting("")
    group_column = Setting("")
    thumbnail_size = Setting(320)
    time_line = Setting(False)
    uncertainty_circles = Setting(True)
    privacy = Setting(0)  # 0: exact, 1: grid, 2: nearest place
    privacy_grid_m = Setting(1000)

    def __init__(self):
        OWSaveBase.__init__(self, start_row=1)
        ConcurrentWidgetMixin.__init__(self)
        box = gui.vBox(None, "Placemarks")
        self.grid.addWidget(box, 0, 0, 1, 2)
        gui.lineEdit(box, self, "name_template", label="Name template:",
                     orientation="horizontal",
                     placeholderText="default: {name}, else {place}, else file name",
                     callback=self._options_changed)
        self.group_combo = gui.comboBox(box, self, "group_column", label="Folders by:",
                                        orientation="horizontal", sendSelectedValue=True,
                                        items=[""], callback=self._options_changed)
        gui.spin(box, self, "thumbnail_size", 0, 1600, step=40,
                 label="Thumbnail size (px, 0: none):", callback=self._options_changed)
        gui.checkBox(box, self, "time_line", "Line joining photos in time order",
                     callback=self._options_changed)
        gui.checkBox(box, self, "uncertainty_circles",
                     "Uncertainty circles of predicted positions",
                     callback=self._options_changed)
        privacy = gui.radioButtons(box, self, "privacy", box="Privacy",
                                   callback=self._options_changed)
        gui.appendRadioButton(privacy, "Exact positions")
        gui.appendRadioButton(privacy, "Coarsen to a grid of")
        gui.spin(gui.indentedBox(privacy), self, "privacy_grid_m", 10, 100_000, step=100,
                 label="metres:", callback=self._options_changed)
        gui.appendRadioButton(privacy, "Move to the nearest place (GeoNames)")
        self.summary: Optional[ExportSummary] = None

    def _options_changed(self):
        if self.auto_save and self.filename and self.data is not None:
            self.save_file()

    @Inputs.data
    def set_data(self, data: Optional[Table]):
        self.cancel()
        self.data = data
        columns = [""]
        if data is not None:
            columns += [v.name for v in (*data.domain.variables, *data.domain.metas)
                        if v.is_discrete or (v.is_string and v.name in
                                             ("place", "country", "admin1", "name"))]
        self.group_combo.clear()
        self.group_combo.addItems(columns)
        if self.group_column not in columns:
            self.group_column = ""
        self.group_combo.setCurrentText(self.group_column)
        self.on_new_input()

    def update_messages(self):
        super().update_messages()
        self.Error.no_coordinates.clear()
        self.Warning.without_position.clear()
        if self.data is None:
            return
        try:
            lat, lon, _ = positions(self.data)
        except ValueError:
            self.Error.no_coordinates()
            return
        missing = int(((lat != lat) | (lon != lon)).sum())
        self.Warning.without_position(f"{missing} {pl(missing, 'row')}", shown=missing > 0)

    def options(self) -> ExportOptions:
        return ExportOptions(name_template=self.name_template.strip(),
                             group=self.group_column or None,
                             thumbnail_size=self.thumbnail_size, time_line=self.time_line,
                             uncertainty_circles=self.uncertainty_circles,
                             privacy_grid_m=self.privacy_grid_m if self.privacy == 1 else 0,
                             privacy_to_place=self.privacy == 2)

    def do_save(self):
        self.Error.export_failed.clear()
        self.Information.saved.clear()
        if self.Error.no_coordinates.is_shown():
            return
        self.start(run_export, self.data, self.filename, self.options())

    def on_done(self, summary: ExportSummary):
        self.summary = summary
        self.Information.saved(f"{summary.placemarks} {pl(summary.placemarks, 'placemark')}",
                               summary.path)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.export_failed(str(ex))

    def on_partial_result(self, _):
        pass

    def send_report(self):
        self.report_items((
            ("File", self.filename or "not set"),
            ("Name template", self.name_template or "default"),
            ("Folders by", self.group_column or "none"),
            ("Thumbnails", f"{self.thumbnail_size} px" if self.thumbnail_size else "none"),
            ("Time line", "yes" if self.time_line else "no"),
            ("Privacy", ["exact positions", f"grid of {self.privacy_grid_m} m",
                         "nearest place"][self.privacy])))
        if self.summary is not None:
            self.report_paragraph("Last export", f"{self.summary.placemarks} placemarks, "
                                  f"{self.summary.without_position} rows without a position")

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWKMLExport).run(geotag_table(table_from_paths(sample_photo_paths())))
