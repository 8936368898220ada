"""Clustering TS (Gong et al. 2021, as RELIS runs it): images clustered by a global feature,
one temperature per cluster.

RELIS' ``extract_features.py``: the backbone's last stage summed over H and W and divided by its
max; ``clustering_helpers.py``: ``MiniBatchKMeans(n_clusters, batch_size=2048, n_init=5,
random_state=seed)``; ``compute_clusters_temp_scaling.py``: each cluster's T by the same ECE
grid search on its images' calibration pixels. At test time an image takes its nearest
centre's T (RELIS), or optionally the clusters' T weighted by inverse distance.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch


class BatchFeatures:
    """What :func:`backbone_features` collects during one batch's forward pass."""

    def __init__(self):
        self.total = None

    def clear(self) -> None:
        self.total = None

    def add(self, sums: torch.Tensor) -> None:
        self.total = sums if self.total is None else self.total + sums

    def features(self) -> np.ndarray:
        """(B, D): the batch's image features (:func:`normalised`)."""
        return normalised(self.total)


@contextmanager
def backbone_features(model, name: str = "the model"):
    """Yield a :class:`BatchFeatures` that sums the last backbone stage over space on each
    forward pass of ``model``. Slide inference runs the backbone once per crop: the crops' sums
    add up (the caller clears it between batches)."""
    backbone = getattr(model, "backbone", None)
    if backbone is None:
        raise ValueError(f"{name} has no backbone module to cluster images by: leave clustering TS out of "
                         "its calibration methods (calibration.methods.clustering)")
    collected = BatchFeatures()

    def hook(module, inputs, outputs):
        last = outputs[-1] if isinstance(outputs, (tuple, list)) else outputs
        if not (torch.is_tensor(last) and last.ndim == 4):
            raise ValueError(f"{name}: its backbone's last output is not a (B, C, H, W) feature map; leave "
                             "clustering TS out of its calibration methods (calibration.methods.clustering)")
        collected.add(last.detach().double().sum(dim=(2, 3)).cpu())

    handle = backbone.register_forward_hook(hook)
    try:
        yield collected
    finally:
        handle.remove()


def normalised(feature_sums: torch.Tensor) -> np.ndarray:
    """RELIS' image feature: the summed last stage divided by its max, per image (B, D)."""
    features = feature_sums.double().numpy()
    return features / features.max(axis=1, keepdims=True)


def fit_clusters(features: np.ndarray, clusters: int, seed: int):
    """sklearn's MiniBatchKMeans as RELIS configures it, fitted on (images, D) features: the
    fitted estimator (cluster_centers_, labels_)."""
    from sklearn.cluster import MiniBatchKMeans

    if len(features) < clusters:
        raise ValueError(f"{clusters} clusters need at least {clusters} calibration images, the set has "
                         f"{len(features)}: lower calibration.methods.clustering.clusters or add images")
    return MiniBatchKMeans(n_clusters=clusters, batch_size=2048, n_init=5, random_state=seed).fit(features)


def cluster_temperature(feature: np.ndarray, centres: np.ndarray, temperatures: np.ndarray, soft: bool) -> float:
    """The temperature of one image's ``feature``: its nearest centre's (hard) or the centres'
    temperatures weighted by inverse distance (soft; an image on a centre takes its T).

    >>> centres, temperatures = np.array([[0.0, 0.0], [4.0, 0.0]]), np.array([1.0, 2.0])
    >>> cluster_temperature(np.array([1.0, 0.0]), centres, temperatures, soft=False)
    1.0
    >>> cluster_temperature(np.array([1.0, 0.0]), centres, temperatures, soft=True)  # weights 1, 1/3
    1.25
    """
    distances = np.linalg.norm(centres - feature[None], axis=1)
    if not soft or distances.min() == 0:
        return float(temperatures[int(distances.argmin())])
    weights = 1.0 / distances
    return float((weights * temperatures).sum() / weights.sum())
