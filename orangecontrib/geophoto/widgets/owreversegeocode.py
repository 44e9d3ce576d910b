"""Reverse Geocode widget: a thin Qt face over ``orangecontrib.geophoto.geocode``."""
from typing import Optional

from Orange.data import ContinuousVariable, Table
from Orange.widgets import gui
from Orange.widgets.settings import ContextSetting, DomainContextHandler, Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.itemmodels import DomainModel
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg, Output, OWWidget

from orangecontrib.geophoto.geocode import (
    COUNTRY, PLACE, count_invalid, data_sources, reverse_geocode_table,
)
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_lat_lon

LANGUAGES = ["", "en", "de", "es", "fr", "it", "pt", "sl", "hr", "nl", "pl", "ja", "zh"]


def run_geocode(data: Table, lat_var, lon_var, online: bool, language: str,
                state: TaskState) -> Table:
    return reverse_geocode_table(data, lat_var, lon_var, online=online,
                                 language=language or None,
                                 on_progress=lambda f: state.set_progress_value(100 * f),
                                 should_stop=state.is_interruption_requested)


class OWReverseGeocode(OWWidget, ConcurrentWidgetMixin):
    name = "Reverse Geocode"
    description = "Country, region and nearest place of coordinates, offline."
    icon = "icons/ReverseGeocode.svg"
    priority = 40
    keywords = "reverse geocode, geocoding, country, region, place, city, nominatim"
    want_main_area = False
    resizing_enabled = False

    class Inputs:
        data = Input("Data", Table, default=True)

    class Outputs:
        data = Output("Data", Table, default=True)

    class Error(OWWidget.Error):
        no_coordinates = Msg("Data has no latitude and longitude columns.")
        failed = Msg("Geocoding failed: {}")

    class Warning(OWWidget.Warning):
        invalid = Msg("{} without valid coordinates (missing, or outside ±90/±180): "
                      "kept with empty names.")

    settingsHandler = DomainContextHandler()
    lat_var = ContextSetting(None)
    lon_var = ContextSetting(None)
    online = Setting(False)
    language_index = Setting(0)
    auto_apply = Setting(True)

    def __init__(self):
        OWWidget.__init__(self)
        ConcurrentWidgetMixin.__init__(self)
        self.data: Optional[Table] = None
        self.result: Optional[Table] = None

        box = gui.vBox(self.controlArea, "Coordinates")
        self.coord_model = DomainModel(DomainModel.MIXED, valid_types=ContinuousVariable)
        for attr, label in (("lat_var", "Latitude:"), ("lon_var", "Longitude:")):
            gui.comboBox(box, self, attr, label=label, orientation="horizontal",
                         model=self.coord_model, callback=self.commit.deferred)

        box = gui.vBox(self.controlArea, "Source")
        gui.widgetLabel(box, "Offline: Natural Earth boundaries and GeoNames places.")
        gui.checkBox(box, self, "online",
                     "Ask OpenStreetMap Nominatim online (sends the coordinates out; "
                     "1 photo per second)", callback=self.commit.deferred)
        gui.comboBox(gui.indentedBox(box), self, "language_index", label="Language:",
                     orientation="horizontal",
                     items=["default"] + LANGUAGES[1:], callback=self._language_changed)
        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        gui.auto_apply(self.buttonsArea, self)

    def _language_changed(self):
        if self.online:
            self.commit.deferred()

    @Inputs.data
    def set_data(self, data: Optional[Table]):
        self.closeContext()
        self.data = data
        self.coord_model.set_domain(data.domain if data is not None else None)
        self.lat_var, self.lon_var = find_lat_lon(data) if data is not None else (None, None)
        self.Error.no_coordinates(shown=data is not None and self.lat_var is None)
        if data is not None:
            self.openContext(data)
        self.commit.now()

    @gui.deferred
    def commit(self):
        self.Error.failed.clear()
        self.Warning.invalid.clear()
        self.result = None
        if self.data is None or self.lat_var is None or self.lon_var is None:
            self.cancel()
            self.Outputs.data.send(None)
            self.info_label.setText("No data.")
            return
        invalid = count_invalid(self.data, self.lat_var, self.lon_var)
        self.Warning.invalid(f"{invalid} {pl(invalid, 'row')}", shown=invalid > 0)
        self.info_label.setText("Geocoding…")
        self.start(run_geocode, self.data, self.lat_var, self.lon_var, self.online,
                   LANGUAGES[self.language_index])

    def on_done(self, result: Table):
        self.result = result
        countries = {c for c in result.get_column(COUNTRY) if c}
        places = {p for p in result.get_column(PLACE) if p}
        self.info_label.setText(f"{len(result)} {pl(len(result), 'row')}: "
                                f"{len(countries)} {pl(len(countries), 'country|countries')}, "
                                f"{len(places)} {pl(len(places), 'place')}.")
        self.Outputs.data.send(result)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed(f"{type(ex).__name__}: {ex}")
        self.Outputs.data.send(None)

    def on_partial_result(self, _):
        pass

    def send_report(self):
        if self.lat_var is None:
            return
        self.report_items("Settings", (
            ("Latitude", self.lat_var.name), ("Longitude", self.lon_var.name),
            ("Online (Nominatim)", "yes" if self.online else "no"),
            ("Language", LANGUAGES[self.language_index] or "default")))
        self.report_paragraph("Data sources", data_sources(self.online))
        self.report_paragraph("Result", self.info_label.text())

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWReverseGeocode).run(geotag_table(table_from_paths(sample_photo_paths())))
