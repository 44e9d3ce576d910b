"""EXIF Geotag widget: a thin Qt face over ``orangecontrib.geophoto.exif`` and ``track``."""
import os
from typing import NamedTuple, Optional

import numpy as np
from AnyQt.QtWidgets import QFileDialog, QStyle

from Orange.data import Table
from Orange.widgets import gui
from Orange.widgets.settings import ContextSetting, DomainContextHandler, Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.localization import pl
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg, Output, OWWidget

from orangecontrib.geophoto.exif import ERROR, LATITUDE, POSITION_SOURCE, geotag_table
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.widgets.common import image_column_combo, set_image_data
from orangecontrib.geophoto.tables import subset
from orangecontrib.geophoto.track import (
    NoUsablePoints, Placement, track_from_gpx, track_from_table,
)


class Result(NamedTuple):
    data: Table
    located: np.ndarray      # bool per row
    errors: list             # (file name, reason) of unreadable files
    placed: dict             # position source -> count


def run_geotag(data: Table, image_var, placement: Optional[Placement],
               state: TaskState) -> Result:
    """The widget's worker: read every photo's metadata off the GUI thread."""
    def should_stop():
        return state.is_interruption_requested()
    out = geotag_table(data, image_var, placement=placement,
                       on_progress=lambda f: state.set_progress_value(100 * f),
                       should_stop=should_stop)
    lat = out.get_column(LATITUDE)
    errors = [(os.path.basename(str(p)), e) for p, e in
              zip(out.get_column(image_var), out.get_column(ERROR)) if e]
    source_var = out.domain[POSITION_SOURCE]
    sources = out.get_column(source_var)
    placed = {name: int(np.sum(sources == i)) for i, name in enumerate(source_var.values)}
    return Result(out, np.isfinite(lat), errors, placed)


class OWExifGeotag(OWWidget, ConcurrentWidgetMixin):
    name = "EXIF Geotag"
    description = "Where, when and with which camera photos were taken, from their metadata."
    icon = "icons/ExifGeotag.svg"
    priority = 10
    keywords = "exif, gps, geotag, location, coordinates, camera, time, gpx, track"
    want_main_area = False
    resizing_enabled = False

    class Inputs:
        data = Input("Data", Table, default=True)
        track = Input("Track", Table)

    class Outputs:
        data = Output("Data", Table, default=True)
        geotagged = Output("Geotagged", Table)
        without_location = Output("Without Location", Table)

    class Error(OWWidget.Error):
        no_image_column = Msg("Data has no column with image paths.")
        bad_track = Msg("Track can not be used: {}")
        failed = Msg("Reading metadata failed: {}")

    class Warning(OWWidget.Warning):
        unreadable = Msg("{} could not be read: {}")
        no_track = Msg("Placing by track is on, but there is no Track input or GPX file.")
        empty_track = Msg("The track has no usable points (time and position).")

    settingsHandler = DomainContextHandler()
    image_var = ContextSetting(None)
    use_track = Setting(False)
    gpx_path = Setting("", schema_only=True)
    clock_offset = Setting(0.0)
    max_gap = Setting(10)
    use_neighbours = Setting(False)
    neighbour_minutes = Setting(30)
    auto_apply = Setting(True)

    def __init__(self):
        OWWidget.__init__(self)
        ConcurrentWidgetMixin.__init__(self)
        self.data: Optional[Table] = None
        self.track_data: Optional[Table] = None
        self.result: Optional[Result] = None

        image_column_combo(self, self.controlArea)

        box = gui.vBox(self.controlArea, "Photos without GPS")
        gui.checkBox(box, self, "use_track", "Place by GPS track (Track input or GPX file)",
                     callback=self._track_options_changed)
        row = gui.hBox(gui.indentedBox(box))
        self.gpx_edit = gui.lineEdit(row, self, "gpx_path", placeholderText="GPX file…",
                                     callback=self._track_options_changed)
        button = gui.button(row, self, "…", callback=self._browse_gpx, autoDefault=False,
                            width=30)
        button.setIcon(self.style().standardIcon(QStyle.SP_DirOpenIcon))
        indented = gui.indentedBox(box)
        gui.doubleSpin(indented, self, "clock_offset", -24, 24, 0.25,
                       label="Camera clock minus UTC (hours):",
                       callback=self._track_options_changed, controlWidth=70)
        gui.spin(indented, self, "max_gap", 1, 24 * 60, label="Farthest from a fix (min):",
                 callback=self._track_options_changed, controlWidth=70)
        gui.checkBox(box, self, "use_neighbours",
                     "Place between geotagged photos taken within",
                     callback=self.commit.deferred)
        gui.spin(gui.indentedBox(box), self, "neighbour_minutes", 1, 24 * 60,
                 label="minutes:", callback=self._neighbours_changed, controlWidth=70)

        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Photos"), "No data.")
        gui.auto_apply(self.buttonsArea, self)

    # --- inputs ------------------------------------------------------------------------
    @Inputs.data
    def set_data(self, data: Optional[Table]):
        set_image_data(self, data)

    @Inputs.track
    def set_track(self, track: Optional[Table]):
        self.track_data = track

    def handleNewSignals(self):
        self.commit.now()

    def _browse_gpx(self):
        start = os.path.dirname(self.gpx_path) if self.gpx_path else os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "GPS Track", start,
                                              "GPX files (*.gpx);;All files (*)")
        if path:
            self.gpx_path = path
            self.use_track = True
            self._track_options_changed()

    def _track_options_changed(self):
        self.commit.deferred()

    def _neighbours_changed(self):
        if self.use_neighbours:
            self.commit.deferred()

    def _placement(self) -> Optional[Placement]:
        self.Error.bad_track.clear()
        self.Warning.no_track.clear()
        self.Warning.empty_track.clear()
        track = None
        if self.use_track:
            try:
                if self.track_data is not None:
                    track = track_from_table(self.track_data)
                elif self.gpx_path:
                    track = track_from_gpx(self.gpx_path)
                else:
                    self.Warning.no_track()
            except NoUsablePoints:
                self.Warning.empty_track()
            except (OSError, ValueError) as ex:
                self.Error.bad_track(str(ex))
        if track is None and not self.use_neighbours:
            return None
        return Placement(track=track, clock_offset=self.clock_offset, max_gap=self.max_gap,
                         neighbour_minutes=self.neighbour_minutes if self.use_neighbours else 0)

    # --- work --------------------------------------------------------------------------
    @gui.deferred
    def commit(self):
        self.Error.failed.clear()
        self.Warning.unreadable.clear()
        self.result = None
        if self.data is None or self.image_var is None or not len(self.data):
            self.cancel()
            self._send(None)
            self.info_label.setText("No data." if self.data is None or self.image_var is None
                                    else "No photos.")
            return
        placement = self._placement()
        self.info_label.setText("Reading…")
        self.start(run_geotag, self.data, self.image_var, placement)

    def on_done(self, result: Result):
        self.result = result
        if result.errors:
            shown = ", ".join(f"{name} ({reason})" for name, reason in result.errors[:5])
            more = f" and {len(result.errors) - 5} more" if len(result.errors) > 5 else ""
            n = len(result.errors)
            self.Warning.unreadable(f"{n} {pl(n, 'file')}", shown + more)
        self.info_label.setText(self._summary())
        self._send(result)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed(str(ex))
        self._send(None)

    def on_partial_result(self, _):
        pass

    def _send(self, result: Optional[Result]):
        if result is None:
            for output in (self.Outputs.data, self.Outputs.geotagged,
                           self.Outputs.without_location):
                output.send(None)
            return
        self.Outputs.data.send(result.data)
        self.Outputs.geotagged.send(subset(result.data, result.located, "Geotagged"))
        self.Outputs.without_location.send(
            subset(result.data, ~result.located, "Without location"))

    def _summary(self) -> str:
        if self.result is None:
            return "No data."
        r = self.result
        n, located = len(r.data), int(r.located.sum())
        lines = [f"{n} {pl(n, 'photo')}: {located} with a position, {n - located} without"]
        placed = [f"{count} by {source}" for source, count in r.placed.items()
                  if count and source != "exif"]
        if placed:
            lines.append("placed " + ", ".join(placed))
        if r.errors:
            lines.append(f"{len(r.errors)} {pl(len(r.errors), 'file')} unreadable")
        return "\n".join(lines)

    def send_report(self):
        if self.data is None:
            return
        items = [("Image column", self.image_var.name if self.image_var else "none")]
        if self.use_track:
            items.append(("GPS track", "Track input" if self.track_data is not None
                          else self.gpx_path or "none"))
            items.append(("Camera clock minus UTC", f"{self.clock_offset:g} h"))
            items.append(("Farthest from a fix", f"{self.max_gap} min"))
        if self.use_neighbours:
            items.append(("Place between photos within", f"{self.neighbour_minutes} min"))
        self.report_items("Settings", items)
        self.report_paragraph("Result", self._summary().replace("\n", "; "))

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.tables import table_from_paths
    WidgetPreview(OWExifGeotag).run(table_from_paths(sample_photo_paths()))
