"""Reverse Geocode widget: a thin Qt face over ``orangecontrib.geophoto.geocode``."""
from typing import NamedTuple, Optional

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
from orangecontrib.geophoto.widgets.common import RunControls, reporting_progress

LANGUAGES = ["", "en", "de", "es", "fr", "it", "pt", "sl", "hr", "nl", "pl", "ja", "zh"]


class GeocodeResult(NamedTuple):
    table: Table
    unreachable: str  # why Nominatim could not be asked ("": it answered, or not asked)


def run_geocode(data: Table, lat_var, lon_var, online: bool, language: str,
                state: TaskState) -> GeocodeResult:
    """Geocode on the worker thread; an unreachable Nominatim leaves the offline names."""
    unreachable = []
    table = reverse_geocode_table(data, lat_var, lon_var, online=online,
                                  language=language or None,
                                  on_progress=reporting_progress(state, "Geocoding",
                                                                 len(data)),
                                  should_stop=state.is_interruption_requested,
                                  on_unreachable=lambda ex: unreachable.append(ex.reason))
    return GeocodeResult(table, unreachable[0] if unreachable else "")


class OWReverseGeocode(OWWidget, RunControls, ConcurrentWidgetMixin):
    name = "Reverse Geocode"
    description = "Country, region and nearest place of coordinates, offline."
    icon = "icons/ReverseGeocode.svg"
    priority = 40
    keywords = "reverse geocode, geocoding, country, region, place, city, nominatim"
    want_main_area = False
    resizing_enabled = False
    progress_noun = "row"

    class Inputs:
        data = Input("Data", Table, default=True)

    class Outputs:
        data = Output("Data", Table, default=True)

    class Error(OWWidget.Error):
        no_coordinates = Msg("No latitude and longitude columns.")
        failed = Msg("Geocoding failed; see Info.")

    # one short sentence each (they fit the default width); the details go to Info
    class Warning(OWWidget.Warning):
        invalid = Msg("{} with no valid position.")
        unreachable = Msg("Nominatim unreachable: offline names used.")

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
        self.invalid = 0

        box = gui.vBox(self.controlArea, "Coordinates")
        self.coord_model = DomainModel(DomainModel.MIXED, valid_types=ContinuousVariable)
        for attr, label in (("lat_var", "Latitude:"), ("lon_var", "Longitude:")):
            gui.comboBox(box, self, attr, label=label, orientation="horizontal",
                         model=self.coord_model, callback=self.commit.deferred)

        box = gui.vBox(self.controlArea, "Source")
        gui.widgetLabel(box, "Offline: Natural Earth boundaries and GeoNames places.")
        gui.checkBox(box, self, "online",
                     "Ask OpenStreetMap Nominatim online (sends the coordinates out; "
                     "1 photo per second)", callback=self._online_changed)
        self.language_combo = gui.comboBox(
            gui.indentedBox(box), self, "language_index", label="Language:",
            orientation="horizontal", items=["default"] + LANGUAGES[1:],
            callback=self._language_changed,
            tooltip="Language of the names Nominatim gives (online only).")
        info = gui.vBox(self.controlArea, "Info")
        self.info_label = gui.widgetLabel(info, "No data.")
        self.info_label.setWordWrap(True)
        self.add_run_controls()
        self._update_language()

    def _update_language(self):
        """Language applies to online names only: off while offline, by choice or not."""
        self.language_combo.setEnabled(self.online and not self.Warning.unreachable.is_shown())

    def _online_changed(self):
        self.Warning.unreachable.clear()
        self._update_language()
        self.commit.deferred()

    def _language_changed(self):
        if self.online:
            self.commit.deferred()

    def clear_outputs(self):
        self.Outputs.data.send(None)

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
        self.Warning.unreachable.clear()
        self._update_language()
        self.result = None
        if self.data is None or self.lat_var is None or self.lon_var is None:
            self.cancel()
            self.Outputs.data.send(None)
            self.info_label.setText("No data." if self.data is None else
                                    "Nothing to geocode: no latitude and longitude columns.")
            return
        self.invalid = count_invalid(self.data, self.lat_var, self.lon_var)
        self.Warning.invalid(f"{self.invalid:,} {pl(self.invalid, 'row')}",
                             shown=self.invalid > 0)
        self.run(run_geocode, self.data, self.lat_var, self.lon_var, self.online,
                 LANGUAGES[self.language_index], total=len(self.data))

    def on_done(self, result: GeocodeResult):
        self.result = table = result.table
        self.Warning.unreachable(result.unreachable, shown=bool(result.unreachable))
        self._update_language()
        countries = {c for c in table.get_column(COUNTRY) if c}
        places = {p for p in table.get_column(PLACE) if p}
        source = "offline names" if not self.online or result.unreachable else "Nominatim"
        text = (f"{len(table):,} {pl(len(table), 'row')}: "
                f"{len(countries)} {pl(len(countries), 'country|countries')}, "
                f"{len(places)} {pl(len(places), 'place')} ({source}).")
        if self.invalid:
            text += (f" {self.invalid:,} {pl(self.invalid, 'row')} without valid coordinates "
                     "(missing, or outside ±90/±180) kept with empty names.")
        if result.unreachable:
            text += f" Nominatim could not be reached ({result.unreachable})."
        self.info_label.setText(text)
        self.Outputs.data.send(table)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed()
        self.info_label.setText(f"Geocoding failed: {str(ex) or type(ex).__name__}. "
                                "No output.")
        self.Outputs.data.send(None)

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
