"""Geo Classifier widget: a thin Qt face over ``orangecontrib.geophoto.geolocate``."""
from typing import NamedTuple, Optional

from AnyQt.QtCore import Qt

from Orange.base import Model
from Orange.data import ContinuousVariable, DiscreteVariable, Table
from Orange.misc import DistMatrix
from Orange.widgets import gui
from Orange.widgets.settings import ContextSetting, DomainContextHandler, Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.itemmodels import DomainModel
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Input, Msg, Output, OWWidget

from orangecontrib.geophoto.geolocate import (
    METHODS, GeoPhotoModel, describe, evaluate, evaluation_table, feature_columns,
    predict_table, train,
)
from orangecontrib.geophoto.geolocate.places import (
    LIKED_VALUES, place_probabilities, place_similarity, rank_places, train_places,
)
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import find_lat_lon
from orangecontrib.geophoto.widgets.common import Progress, RunControls, reporting_progress

NO_OUTPUT = "No output: see the message below; hover over it for details."
METHOD_LABELS = ["Auto (cross-validated choice)", "Earth cells (S2, hierarchical)",
                 "Nearest neighbours", "Regression (tangent plane)",
                 "Neighbours weighted by cells",
                 "Neighbours verified by local features (SIFT)"]


class Result(NamedTuple):
    predictions: Optional[Table] = None
    evaluation: Optional[Table] = None
    model: Optional[Model] = None
    place_distances: Optional[DistMatrix] = None
    place_ranking: Optional[Table] = None
    summary: str = ""
    skipped: int = 0


def run_training(data, photos, method, lat_var, lon_var, place_var, liked_name,
                 do_evaluate, top, state: TaskState) -> Result:
    stop = state.is_interruption_requested
    if place_var is not None:
        state.set_partial_result(Progress("Learning the places", 0))
        model = train_places(data, place_var)
        target = photos if photos is not None else data
        rated = _rated_photos(liked_name, photos, data)
        ranking = rank_places(model, *rated) if rated else None
        summary = f"Learned {len(model.places)} places from {len(data):,} photos."
        if rated:
            summary += (f"\nPlaces ranked by {len(rated[0]):,} rated photos (liked minus "
                        f"disliked, from '{liked_name}').")
        return Result(place_probabilities(model, target), None, None,
                      place_similarity(model, data, place_var), ranking, summary)
    evaluation, summary = None, ""
    if do_evaluate:
        ev = evaluate(data, METHODS[method], 5, lat_var, lon_var,
                      reporting_progress(state, "Cross-validating", end=0.7), stop)
        evaluation = evaluation_table(ev)
        summary = (f"Cross-validated: mean {ev.scores['mean error (m)']:.0f} m, median "
                   f"{ev.scores['median error (m)']:.0f} m, "
                   f"{100 * ev.scores['within 100 m']:.0f}% within 100 m, "
                   f"{100 * ev.coverage:.0f}% inside the 68% radius.\n")
    model = train(data, METHODS[method], lat_var, lon_var,
                  on_progress=reporting_progress(state, "Training",
                                                 start=0.7 if do_evaluate else 0),
                  should_stop=stop)
    summary += f"Model: {describe(model)}"
    predictions = predict_table(model, photos, top) if photos is not None else None
    return Result(predictions, evaluation, GeoPhotoModel(model), None, None, summary,
                  model.skipped)


def liked_candidates(*tables) -> list:
    """Columns that can say liked/disliked, by name, the Photos input's first: ratings
    usually come with the photos a user swiped, not with the training photos."""
    names = []
    for table in tables:
        if table is None:
            continue
        domain = table.domain
        for var in (*domain.variables, *domain.metas):
            if (var.is_discrete or var.is_continuous) and var.name not in names:
                names.append(var.name)
    return names


def looks_like_ratings(var) -> bool:
    return var.is_discrete and any(v.lower() in LIKED_VALUES for v in var.values)


def _rated_photos(liked_name, photos, data):
    """(table, liked column) of the photos that carry the chosen ratings, or None."""
    for table in (photos, data):
        if table is not None and liked_name and liked_name in table.domain:
            return table, table.domain[liked_name]
    return None


class OWGeoClassifier(OWWidget, RunControls, ConcurrentWidgetMixin):
    name = "Geo Classifier"
    description = ("Learns where photos are taken from geotagged examples and predicts it "
                   "for new photos, with an error radius.")
    icon = "icons/GeoClassifier.svg"
    priority = 30
    keywords = "geolocation, geolocate, where, predict location, planet, cells, knn, place"
    want_main_area = False
    resizing_enabled = False

    class Inputs:
        data = Input("Data", Table, default=True)
        photos = Input("Photos", Table)

    class Outputs:
        predictions = Output("Predictions", Table, default=True)
        evaluation = Output("Evaluation", Table)
        model = Output("Model", Model, dynamic=False)
        place_distances = Output("Place Distances", DistMatrix, dynamic=False)
        place_ranking = Output("Place Ranking", Table)

    class Error(OWWidget.Error):
        no_target = Msg("No coordinates or place column.\nThe training data needs latitude "
                        "and longitude, or a column of place names (such as the folders "
                        "Import Images reads).")
        no_features = Msg("No features: embed the photos.\nThe training data has no "
                          "features: connect it through the Local Embedder first.")
        failed = Msg("Training failed.\n{}")

    class Warning(OWWidget.Warning):
        skipped = Msg("{0} training rows skipped.\n{0} training rows without coordinates "
                      "or features were left out.")
        no_ratings = Msg("Ratings column not found.\nThe ratings column '{0}' is in "
                         "neither input, so there is no Place Ranking.")

    settings_version = 2  # 2: the ratings column is liked_name, no longer a context setting
    settingsHandler = DomainContextHandler()
    lat_var = ContextSetting(None)
    lon_var = ContextSetting(None)
    place_var = ContextSetting(None)
    # A column name, not a ContextSetting: the ratings usually come on the Photos input,
    # while contexts follow the training data. None: not chosen yet, pick ratings-like columns.
    liked_name: Optional[str] = Setting(None)
    method = Setting(0)
    do_evaluate = Setting(True)
    top_k = Setting(0)
    auto_apply = Setting(True)

    def __init__(self):
        OWWidget.__init__(self)
        ConcurrentWidgetMixin.__init__(self)
        self.data: Optional[Table] = None
        self.photos: Optional[Table] = None
        self.result: Optional[Result] = None

        box = gui.vBox(self.controlArea, "Target")
        self.coord_model = DomainModel(DomainModel.MIXED, valid_types=ContinuousVariable,
                                       placeholder="(none)")
        for attr, label in (("lat_var", "Latitude:"), ("lon_var", "Longitude:")):
            gui.comboBox(box, self, attr, label=label, orientation="horizontal",
                         model=self.coord_model, callback=self.commit.deferred)
        self.place_model = DomainModel(DomainModel.MIXED, valid_types=DiscreteVariable,
                                       placeholder="(coordinates)")
        gui.comboBox(box, self, "place_var", label="Or a place column:",
                     orientation="horizontal", model=self.place_model,
                     callback=self._place_changed)
        self.liked_combo = gui.comboBox(
            box, None, None, label="Liked/disliked:", orientation="horizontal",
            tooltip="Ratings of photos (e.g. folders 'liked' and 'disliked'), usually on the "
                    "Photos input: places are ranked by what the user liked.")
        self.liked_combo.activated[int].connect(self._on_liked_chosen)

        # where a place column is the target, places are learned by logistic regression:
        # this box does not apply and is disabled
        self.method_box = box = gui.vBox(self.controlArea, "Method (for coordinates)")
        gui.radioButtons(box, self, "method", btnLabels=METHOD_LABELS,
                         callback=self.commit.deferred)
        gui.checkBox(box, self, "do_evaluate", "Cross-validate (5 folds) for Evaluation",
                     callback=self.commit.deferred)
        spin = gui.spin(box, self, "top_k", 0, 10, label="Other likely locations per photo:",
                        callback=self.commit.deferred, controlWidth=75,
                        tooltip="None: only the best guess. 1 to 10: Predictions also get "
                                "that many likely locations (latitude, longitude, "
                                "probability), e.g. for a photo that could be in two "
                                "places.")
        spin.setSpecialValueText("none")
        self.info_label = gui.widgetLabel(gui.vBox(self.controlArea, "Info"), "No data.")
        self.info_label.setWordWrap(True)
        self.add_run_controls()
        self._update_controls()

    @classmethod
    def migrate_settings(cls, settings, version):
        """Workflows saved by 0.1 chose the ratings column per training-data context."""
        if version is None or version < 2:
            for context in settings.get("context_settings", []):
                stored = context.values.pop("liked_var", None)
                if stored and stored[0] is not None:
                    name = stored[0][0] if isinstance(stored[0], tuple) else stored[0]
                    settings.setdefault("liked_name", name)

    @Inputs.data
    def set_data(self, data: Optional[Table]):
        self.closeContext()
        self.data = data
        domain = data.domain if data is not None else None
        for model in (self.coord_model, self.place_model):
            model.set_domain(domain)
        self.lat_var, self.lon_var = find_lat_lon(data) if data is not None else (None, None)
        self.place_var = None
        if data is not None and self.lat_var is None and data.domain.class_var is not None \
                and data.domain.class_var.is_discrete:
            self.place_var = data.domain.class_var  # e.g. the folders of Import Images
        if data is not None:
            self.openContext(data)
        self._update_liked_combo()
        self._update_controls()

    def _place_changed(self):
        self._update_controls()
        self.commit.deferred()

    def _update_controls(self):
        """Enable what the target uses: the method box for coordinates, the ratings for
        places."""
        places = self.place_var is not None
        self.method_box.setEnabled(not places)
        self.liked_combo.setEnabled(places)

    @Inputs.photos
    def set_photos(self, photos: Optional[Table]):
        self.photos = photos
        self._update_liked_combo()

    def _update_liked_combo(self):
        names = liked_candidates(self.photos, self.data)
        if self.liked_name is None and self.photos is not None:
            domain = self.photos.domain
            rated = [v.name for v in (*domain.variables, *domain.metas)
                     if looks_like_ratings(v) and not self._is_place_column(v)]
            if rated:
                self.liked_name = rated[0]
        if self.liked_name and self.liked_name not in names:
            names.append(self.liked_name)  # kept while its input is away, not forgotten
        self.liked_combo.clear()
        self.liked_combo.addItem("(none)", "")
        for name in names:
            # the input it comes from: a Photos column may share the place column's name
            source = next((label for label, table in (("Photos", self.photos),
                                                      ("Data", self.data))
                           if table is not None and name in table.domain), "missing")
            self.liked_combo.addItem(f"{name} ({source})", name)
        self.liked_combo.setCurrentIndex(names.index(self.liked_name) + 1
                                         if self.liked_name else 0)

    def _is_place_column(self, var) -> bool:
        """The ratings must not default to the place column itself (the same table on
        both inputs)."""
        place = self.place_var
        return place is not None and var.name == place.name and var.is_discrete \
            and var.values == place.values

    def _on_liked_chosen(self, index):
        self.liked_name = self.liked_combo.itemData(index, Qt.UserRole) or ""
        self.commit.deferred()

    def handleNewSignals(self):
        self.commit.now()

    @gui.deferred
    def commit(self):
        self.Error.clear()
        self.Warning.clear()
        self.cancel()
        self.clear_outputs()
        if self.data is None or not len(self.data):
            self.info_label.setText("No data.")
            return
        self.info_label.setText(NO_OUTPUT)
        if not feature_columns(self.data):
            self.Error.no_features()
            return
        if self.place_var is None and (self.lat_var is None or self.lon_var is None):
            self.Error.no_target()
            return
        self.Warning.no_ratings(self.liked_name, shown=self.place_var is not None and bool(
            self.liked_name) and _rated_photos(self.liked_name, self.photos, self.data) is None)
        self.run(run_training, self.data, self.photos, self.method, self.lat_var,
                 self.lon_var, self.place_var, self.liked_name, self.do_evaluate, self.top_k)

    def on_done(self, result: Result):
        self.result = result
        self.Warning.skipped(result.skipped, shown=result.skipped > 0)
        self.info_label.setText(result.summary)
        self._send(result)

    def on_exception(self, ex: Exception):
        if isinstance(ex, Cancelled):
            return
        self.Error.failed(str(ex)[:1].upper() + str(ex)[1:])
        self.info_label.setText(NO_OUTPUT)
        self.clear_outputs()

    def clear_outputs(self):
        self.result = None
        self._send(Result())

    def _send(self, result: Result):
        self.Outputs.predictions.send(result.predictions)
        self.Outputs.evaluation.send(result.evaluation)
        self.Outputs.model.send(result.model)
        self.Outputs.place_distances.send(result.place_distances)
        self.Outputs.place_ranking.send(result.place_ranking)

    def send_report(self):
        if self.data is None:
            return
        target = (f"place: {self.place_var.name}" if self.place_var is not None else
                  f"{getattr(self.lat_var, 'name', '?')}, {getattr(self.lon_var, 'name', '?')}")
        self.report_items("Settings", (("Target", target),
                                       ("Method", METHOD_LABELS[self.method]),
                                       ("Ratings", self.liked_name or "none"),
                                       ("Cross-validation", "5 folds" if self.do_evaluate
                                        else "off")))
        if self.result is not None:
            self.report_paragraph("Result", self.result.summary)
            if self.result.evaluation is not None:
                self.report_data("Evaluation", self.result.evaluation)

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()


if __name__ == "__main__":  # pragma: no cover
    WidgetPreview(OWGeoClassifier).run()
