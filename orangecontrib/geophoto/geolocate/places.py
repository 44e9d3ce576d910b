"""Place mode: when the target is a discrete place (e.g. city names from folder names)
rather than coordinates. Per-place probabilities, a place-by-place similarity matrix and a
ranking of places from liked/disliked photos (the swipe recommender of seed 004)."""
from dataclasses import dataclass
from typing import List

import numpy as np

from orangecontrib.geophoto.geolocate.learners import Features

# Values of a discrete column that count as "liked"; all others count as disliked.
LIKED_VALUES = ("1", "yes", "true", "liked", "like")


@dataclass
class PlaceModel:
    features: Features
    classifier: object
    places: List[str]
    feature_names: List[str]

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(X), len(self.places)))
        probs[:, self.classifier.classes_] = self.classifier.predict_proba(self.features(X))
        return probs


def train_places(data, place_var, C: float = 1.0) -> PlaceModel:
    from sklearn.linear_model import LogisticRegression
    from orangecontrib.geophoto.geolocate import feature_columns
    features = feature_columns(data)
    if not features:
        raise ValueError("the training data has no feature columns")
    X = np.column_stack([data.get_column(v).astype(float) for v in features])
    y = data.get_column(place_var).astype(float)
    ok = np.isfinite(X).all(1) & np.isfinite(y)
    if len(np.unique(y[ok])) < 2:
        raise ValueError("place mode needs photos of at least two places")
    norm = Features(X[ok])
    clf = LogisticRegression(C=C, max_iter=500).fit(norm(X[ok]), y[ok].astype(int))
    return PlaceModel(norm, clf, list(place_var.values), [v.name for v in features])


def _X(model, data):
    from orangecontrib.geophoto.geolocate import photo_features
    return photo_features(model, data)


def place_probabilities(model: PlaceModel, data):
    """``data`` plus a probability column per place and the most probable place."""
    from Orange.data import ContinuousVariable, DiscreteVariable
    from orangecontrib.geophoto.tables import append_columns
    X = _X(model, data)
    ok = np.isfinite(X).all(1)
    probs = np.full((len(data), len(model.places)), np.nan)
    probs[ok] = model.probabilities(X[ok])
    best = np.where(ok, np.nanargmax(np.where(ok[:, None], probs, 0), axis=1), np.nan)
    attrs = [(ContinuousVariable(f"P({p})", number_of_decimals=3), probs[:, i])
             for i, p in enumerate(model.places)]
    attrs.append((DiscreteVariable("place (predicted)", values=model.places), best))
    from orangecontrib.geophoto.geolocate import first_attributes
    return first_attributes(append_columns(data, attributes=attrs), len(attrs))


def place_similarity(model: PlaceModel, data, place_var):
    """Distances between places: 1 - cosine of their photos' mean probability vectors."""
    from Orange.misc import DistMatrix
    X = _X(model, data)
    y = data.get_column(place_var).astype(float)
    ok = np.isfinite(X).all(1) & np.isfinite(y)
    probs = model.probabilities(X[ok])
    means = np.array([probs[y[ok] == i].mean(0) if (y[ok] == i).any()
                      else np.zeros(len(model.places)) for i in range(len(model.places))])
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    matrix = DistMatrix(np.clip(1 - unit @ unit.T, 0, 2))
    from Orange.data import Domain, StringVariable, Table
    labels = Table.from_list(Domain([], metas=[StringVariable("place")]),
                             [[p] for p in model.places])
    matrix.row_items = matrix.col_items = labels
    return matrix


def rank_places(model: PlaceModel, data, liked_var):
    """Places ranked by the summed probabilities of liked photos minus disliked ones."""
    from Orange.data import ContinuousVariable, Domain, StringVariable, Table
    X = _X(model, data)
    liked = data.get_column(liked_var)
    if liked_var.is_discrete:
        positive = [i for i, v in enumerate(liked_var.values)
                    if v.lower() in LIKED_VALUES]
        sign = np.where(np.isin(liked, positive), 1.0, -1.0)
    else:
        sign = np.sign(liked.astype(float))
    ok = np.isfinite(X).all(1) & np.isfinite(liked.astype(float))
    score = (sign[ok, None] * model.probabilities(X[ok])).sum(0)
    order = np.argsort(-score)
    domain = Domain([ContinuousVariable("score", number_of_decimals=3)],
                    metas=[StringVariable("place")])
    table = Table.from_numpy(domain, score[order, None],
                             metas=np.array([model.places[i] for i in order],
                                            dtype=object)[:, None])
    table.name = "Place ranking"
    return table
