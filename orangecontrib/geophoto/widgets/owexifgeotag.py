"""EXIF Geotag widget: a thin Qt face over ``orangecontrib.geophoto.exif`` and ``track``."""
import os
from typing import NamedTuple, Optional

import numpy as np
from AnyQt.QtCore import Qt
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
from orangecontrib.geophoto.widgets.common import (
    RunControls, image_column_combo, reporting_progress, set_image_data, workflow_path,
)
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
    out = geotag_table(data, image_var, placement=placement,
                       on_progress=reporting_progress(state, "Reading", len(data)),
                       should_stop=state.is_interruption_requested)
    lat = out.get_column(LATITUDE)
    errors = [(os.path.basename(str(p)), e) for p, e in
              zip(out.get_column(image_var), out.get_column(ERROR)) if e]
    source_var = out.domain[POSITION_SOURCE]
    sources = out.get_column(source_var)
    placed = {name: int(np.sum(sources == i)) for i, name in enumerate(source_var.values)}
    return Result(out, np.isfinite(lat), errors, placed)


class OWExifGeotag(OWWidget, RunControls, ConcurrentWidgetMixin):
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

    # one short sentence each, to fit the widget's width; details go in the Info box
    class Error(OWWidget.Error):
        no_image_column = Msg("No image column in the data.")
        bad_track = Msg("The GPS track can't be read.")
        failed = Msg("Reading the photos failed.")

    class Warning(OWWidget.Warning):
        unreadable = Msg("{} unreadable.")
        no_gps = Msg("No photo has a GPS position.")
        no_track = Msg("No GPS track given.")
        empty_track = Msg("Track has no usable points.")

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
        self.track_problem = ""

        image_column_combo(self, self.controlArea)

        box = gui.vBox(self.controlArea, "Photos without GPS")
        gui.checkBox(box, self, "use_track", "Place by GPS track (Track input or GPX file)",
                     callback=self._track_options_changed)
        self.track_box = gui.indentedBox(box)
        row = gui.hBox(self.track_box)
        self.gpx_edit = gui.lineEdit(row, self, "gpx_path", placeholderText="GPX file…",
                                     callback=self._track_options_changed)
        button = gui.button(row, self, "", callback=self._browse_gpx, autoDefault=False,
                            tooltip="Choose a GPX file")
        button.setIcon(self.style().standardIcon(QStyle.SP_DirOpenIcon))
        gui.doubleSpin(self.track_box, self, "clock_offset", -24, 24, 0.25,
                       label="Camera clock minus UTC:", suffix=" h",
                       alignment=Qt.AlignRight, callback=self._track_options_changed,
                       controlWidth=80)
        gui.spin(self.track_box, self, "max_gap", 1, 24 * 60, label="Farthest from a fix:",
                 suffix=" min", alignment=Qt.AlignRight,
                 callback=self._track_options_changed, controlWidth=80)
        gui.checkBox(box, self, "use_neighbours", "Place between geotagged photos",
                     callback=self._neighbours_toggled)
        self.neighbour_box = gui.indentedBox(box)
        gui.spin(self.neighbour_box, self, "neighbour_minutes", 1, 24 * 60,
                 label="Taken within:", suffix=" min", alignment=Qt.AlignRight,
                 callback=self._neighbours_changed, controlWidth=80)
        self._enable_options()

        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        self.info_label.setWordWrap(True)
        self.add_run_controls()

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

    def _enable_options(self):
        """Options of an unticked placement are greyed out."""
        self.track_box.setEnabled(self.use_track)
        self.neighbour_box.setEnabled(self.use_neighbours)

    def _track_options_changed(self):
        self._enable_options()
        self.commit.deferred()

    def _neighbours_toggled(self):
        self._enable_options()
        self.commit.deferred()

    def _neighbours_changed(self):
        if self.use_neighbours:
            self.commit.deferred()

    def _placement(self) -> Optional[Placement]:
        self.Error.bad_track.clear()
        self.track_problem = ""
        self.Warning.no_track.clear()
        self.Warning.empty_track.clear()
        track = None
        if self.use_track:
            try:
                if self.track_data is not None:
                    track = track_from_table(self.track_data)
                elif self.gpx_path:
                    track = track_from_gpx(workflow_path(self, self.gpx_path))
                else:
                    self.Warning.no_track()
                    self.track_problem = "connect a Track input or choose a GPX file."
            except NoUsablePoints:
                self.Warning.empty_track()
                self.track_problem = "no point has both a time and a valid position."
            except (OSError, ValueError) as ex:
                self.Error.bad_track()
                self.track_problem = str(ex)
        if track is None and not self.use_neighbours:
            return None
        return Placement(track=track, clock_offset=self.clock_offset, max_gap=self.max_gap,
                         neighbour_minutes=self.neighbour_minutes if self.use_neighbours else 0)

    # --- work --------------------------------------------------------------------------
    @gui.deferred
    def commit(self):
        self.Error.failed.clear()
        self.Warning.unreadable.clear()
        self.Warning.no_gps.clear()
        self.result = None
        if self.data is None or self.image_var is None or not len(self.data):
            self.cancel()
            self.clear_outputs()
            self.info_label.setText(
                "No data." if self.data is None else
                "No image column." if self.image_var is None else "No photos.")
            return
        placement = self._placement()
        self.run(run_geotag, self.data, self.image_var, placement, total=len(self.data))

    def on_done(self, result: Result):
        self.result = result
        n = len(result.errors)
        self.Warning.unreadable(f"{n} {pl(n, 'file')}", shown=n > 0)
        self.Warning.no_gps(shown=not result.located.any() and n < len(result.data))
        self.info_label.setText(self._summary())
        self._send(result)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed()
        self.info_label.setText(f"Reading the photos failed: {ex}")
        self.clear_outputs()

    def clear_outputs(self):
        self._send(None)

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
        lines = [f"{n:,} {pl(n, 'photo')}: {located:,} with a position, "
                 f"{n - located:,} without"]
        placed = [f"{count} by {source}" for source, count in r.placed.items()
                  if count and source != "exif"]
        if placed:
            lines.append("placed " + ", ".join(placed))
        if self.track_problem:
            lines.append(f"No track: {self.track_problem}")
        if r.errors:
            shown = ", ".join(f"{name} ({reason})" for name, reason in r.errors[:3])
            more = f" and {len(r.errors) - 3} more" if len(r.errors) > 3 else ""
            lines.append(f"Unreadable: {shown}{more}")
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
