"""The fitted Check-in decision: per-concept probabilities, then select / clarify / none.

The probability is a small gradient-boosted tree ensemble (fitted with scikit-learn by
scripts/fit_checkin.py, evaluated here with numpy alone, so the app needs no scikit-learn) or, as a
fallback kind, a logistic model. The trees, the two thresholds and the hash of the corpus they were
fitted on live in `checkin_weights.json`. Rule: every concept whose
probability clears `min_p` and is at least `ratio` of the best one is a reading of the request; none
-> "none", one -> "selected", several -> "clarify" with those (at most MAX_OPTIONS).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WEIGHTS_PATH = Path(__file__).with_name("checkin_weights.json")
MAX_OPTIONS = 4  # concepts in one question


class WeightsMissing(FileNotFoundError):
    """checkin_weights.json is absent or does not match the feature list: run scripts/fit_checkin.py."""


@dataclass
class Tree:
    """One regression tree: node arrays; a sample goes left when x[feature] <= threshold."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=np.int64)
        for _ in range(64):  # deeper than any fitted tree
            active = ~self.leaf[node]
            if not active.any():
                break
            idx = np.nonzero(active)[0]
            go_left = x[idx, self.feature[node[idx]]] <= self.threshold[node[idx]]
            node[idx] = np.where(go_left, self.left[node[idx]], self.right[node[idx]])
        return self.value[node]

    def to_json(self) -> dict:
        return {"feature": self.feature.tolist(), "threshold": [float(t) for t in self.threshold],  # exact: splits sit on sample values
                "left": self.left.tolist(), "right": self.right.tolist(), "leaf": self.leaf.astype(int).tolist(),
                "value": [round(float(v), 7) for v in self.value]}

    @classmethod
    def from_json(cls, d: dict) -> "Tree":
        return cls(np.array(d["feature"], dtype=np.int64), np.array(d["threshold"], dtype=np.float64),
                   np.array(d["left"], dtype=np.int64), np.array(d["right"], dtype=np.int64),
                   np.array(d["leaf"], dtype=bool), np.array(d["value"], dtype=np.float64))


_MODEL_KEYS = {"kind", "features", "mean", "scale", "coef", "intercept", "baseline", "trees", "thresholds", "status"}
STATUSES = ("selected", "clarify", "none")


@dataclass
class StatusModel:
    """Second stage: select / clarify / none for the whole request, from the sorted concept probabilities
    and the best concept's features (a multiclass tree ensemble: one tree list per status)."""

    per_class: list[list[Tree]]
    baseline: np.ndarray

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """One request's row -> (statuses,); a (n, columns) matrix -> (n, statuses), all trees at once."""
        x = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        raw = np.stack([b + sum((t.predict(x) for t in trees), np.zeros(len(x))) for b, trees in zip(self.baseline, self.per_class)],
                       axis=1)
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return p[0] if np.ndim(rows) == 1 else p

    def to_json(self) -> dict:
        return {"baseline": [float(b) for b in self.baseline],
                "trees": [[t.to_json() for t in trees] for trees in self.per_class]}

    @classmethod
    def from_json(cls, d: dict) -> "StatusModel":
        return cls([[Tree.from_json(t) for t in trees] for trees in d["trees"]], np.array(d["baseline"], dtype=np.float64))

    @classmethod
    def from_sklearn(cls, clf) -> "StatusModel":
        n = len(clf.classes_)
        per_class: list[list[Tree]] = [[] for _ in range(n)]
        for iteration in clf._predictors:
            for k, predictor in enumerate(iteration):
                nodes = predictor.nodes
                per_class[k].append(Tree(nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(np.float64),
                                         nodes["left"].astype(np.int64), nodes["right"].astype(np.int64),
                                         nodes["is_leaf"].astype(bool), nodes["value"].astype(np.float64)))
        return cls(per_class, np.ravel(clf._baseline_prediction).astype(np.float64))


def request_features(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The second stage's row: the four best probabilities, how many clear 0.3 / 0.5, the runner-up's
    share of the best, their sum, and the best concept's own features."""
    q = np.concatenate([np.sort(p)[::-1], np.zeros(4)])[:4]
    top = x[int(np.argmax(p))] if len(p) else np.zeros(x.shape[1] if x.ndim == 2 else 0)
    return np.concatenate([q, [(p >= 0.3).sum(), (p >= 0.5).sum(), q[1] / (q[0] + 1e-6), p.sum()], top])


@dataclass
class DecisionModel:
    features: list[str]
    kind: str = "trees"  # trees | logistic
    trees: list[Tree] = field(default_factory=list)
    baseline: float = 0.0
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: float = 0.0
    thresholds: dict = field(default_factory=lambda: {"min_p": 0.5, "ratio": 0.5})
    info: dict = field(default_factory=dict)
    status: StatusModel | None = None  # when present, it decides select / clarify / none

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(n, features) -> (n,) probability that each concept is one the user means."""
        if x.size == 0:
            return np.zeros(0, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "trees":
            z = self.raw(x)
        else:
            z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self.baseline + sum(tree.predict(x) for tree in self.trees)

    def to_json(self) -> dict:
        out = {"kind": self.kind, "features": list(self.features), "thresholds": self.thresholds}
        if self.kind == "trees":
            out |= {"baseline": round(float(self.baseline), 7), "trees": [t.to_json() for t in self.trees]}
        else:
            out |= {"mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
                    "coef": self.coef.round(6).tolist(), "intercept": round(float(self.intercept), 6)}
        if self.status is not None:
            out["status"] = self.status.to_json()
        # the record (corpus hash, metrics) first, the numbers last, so the file reads from the top
        return {**self.info, **out}

    @classmethod
    def from_json(cls, data: dict) -> "DecisionModel":
        info = {k: v for k, v in data.items() if k not in _MODEL_KEYS}
        kind = data.get("kind", "logistic")
        if kind == "trees":
            status = StatusModel.from_json(data["status"]) if data.get("status") else None
            return cls(list(data["features"]), "trees", [Tree.from_json(t) for t in data["trees"]],
                       float(data["baseline"]), thresholds=dict(data["thresholds"]), info=info, status=status)
        return cls(list(data["features"]), "logistic", mean=np.array(data["mean"]), scale=np.array(data["scale"]),
                   coef=np.array(data["coef"]), intercept=float(data["intercept"]), thresholds=dict(data["thresholds"]),
                   info=info)

    @classmethod
    def from_sklearn(cls, clf, features: list[str]) -> "DecisionModel":
        """Copy a fitted HistGradientBoostingClassifier's trees (numerical splits only)."""
        trees = []
        for (predictor,) in clf._predictors:
            nodes = predictor.nodes
            trees.append(Tree(nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(np.float64),
                              nodes["left"].astype(np.int64), nodes["right"].astype(np.int64),
                              nodes["is_leaf"].astype(bool), nodes["value"].astype(np.float64)))
        return cls(list(features), "trees", trees, float(np.ravel(clf._baseline_prediction)[0]))


_MODEL: DecisionModel | None = None


def load_model(path: Path | None = None) -> DecisionModel:
    """The saved decision (cached); raises WeightsMissing when absent or fitted for other features."""
    global _MODEL
    from checkin.features import FEATURES

    if path is None and _MODEL is not None:
        return _MODEL
    target = Path(path or WEIGHTS_PATH)
    if not target.is_file():
        raise WeightsMissing(f"Check-in weights not found: {target} (run scripts/fit_checkin.py)")
    model = DecisionModel.from_json(json.loads(target.read_text(encoding="utf-8")))
    if tuple(model.features) != tuple(FEATURES):
        raise WeightsMissing(f"{target} was fitted for other features; run scripts/fit_checkin.py")
    if path is None:
        _MODEL = model
    return model


def choose(p: np.ndarray, thresholds: dict, status: StatusModel | None = None,
           x: np.ndarray | None = None, status_probs: np.ndarray | None = None) -> tuple[str, list[int]]:
    """select / clarify / none from per-concept probabilities: indices of the concepts kept, best first.

    With a status model: its most likely status after the fitted per-status log-bias; a question offers
    every concept within `ratio` of the best (at least two). Without: the min_p / ratio rule."""
    if p.size == 0:
        return "none", []
    order = np.argsort(-p, kind="stable")
    if status_probs is None and status is not None and x is not None:
        status_probs = status.probabilities(request_features(p, x))
    if status_probs is not None:
        scores = np.log(status_probs + 1e-9) + np.array(thresholds.get("bias", [0, 0, 0]))
        which = STATUSES[int(np.argmax(scores))]
        if which == "none":
            return "none", []
        if which == "selected":
            return "selected", [int(order[0])]
        if len(order) < 2:
            return "selected", [int(order[0])]
        kept = [int(i) for i in order if p[i] >= thresholds["ratio"] * p[order[0]]][:MAX_OPTIONS]
        return "clarify", kept if len(kept) >= 2 else [int(i) for i in order[:2]]
    best = float(p[order[0]])
    kept = [int(i) for i in order if p[i] >= thresholds["min_p"] and p[i] >= thresholds["ratio"] * best]
    if not kept:
        return "none", []
    if len(kept) == 1:
        return "selected", kept
    return "clarify", kept[:MAX_OPTIONS]
