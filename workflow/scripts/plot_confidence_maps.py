"""Rule plot_confidence_maps: image, ground truth, prediction, MSP and errors of one model on
the first images of every test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmseg.apis import inference_model  # noqa: E402
from PIL import Image  # noqa: E402

from segrel import resolve_device  # noqa: E402
from segrel import datasets, labels as lb  # noqa: E402
from segrel.evaluate import max_softmax  # noqa: E402
from segrel.figures import confidence_maps_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402
from segrel.models import load_model  # noqa: E402

device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
rows = []
for name, spec in snakemake.params.test_sets.items():
    samples = sorted(datasets.list_samples(spec["format"], spec["root"], spec["split"], spec["subset"]),
                     key=lambda sample: sample.name)[: snakemake.params.images]
    for sample in samples:
        with torch.no_grad():
            result = inference_model(model, str(sample.image))
        logits = result.seg_logits.data
        confidence = max_softmax(logits.flatten(1).T).reshape(logits.shape[1:]).cpu().numpy()
        prediction = result.pred_sem_seg.data[0].cpu().numpy()
        label = datasets.read_label(spec["format"], sample.label)
        if spec["format"] == "smiyc":  # anomaly sets: white anomalies, grey void
            ground_truth = np.select([label == lb.ANOMALY_YES, label == lb.ANOMALY_VOID], [255, 128], 0)
            ground_truth = np.repeat(ground_truth[..., None], 3, axis=2).astype(np.uint8)
            marked = np.where(label == lb.ANOMALY_VOID, np.nan, (label == lb.ANOMALY_YES).astype(float))
        else:
            ground_truth = lb.TRAINID_COLORS[label]
            marked = np.where(label == lb.VOID, np.nan, (prediction != label).astype(float))
        rows.append({"test_set": name, "name": sample.name, "image": np.asarray(Image.open(sample.image).convert("RGB")),
                     "ground_truth": ground_truth, "prediction": lb.TRAINID_COLORS[prediction],
                     "confidence": confidence, "marked": marked})
    print(f"{name}: {len(samples)} images", file=sys.stderr)
figure, data = confidence_maps_figure(rows)
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
