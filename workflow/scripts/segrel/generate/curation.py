"""Curating the inpainted OOD objects (Loiseau et al. kept 656 of ~23k by eye): a static page of
every detected sample with a checkbox, which writes the id list ``generation.anomalies.curated``
reads (one id per line).

The page needs no server: thumbnails beside it, the sample table and the ids already curated
embedded as JSON, the choices kept in the browser's localStorage while one works through the
set (per page, so two studies do not share them), and a download of ``curated.txt``.
Thumbnails are the context crop (1.5x the repainted square, as the inpainting model saw it) with
the object mask's outline, so a reviewer judges the object, not the whole street.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from segrel.core import labels as lb
from segrel.generate.inpainting import Box, context_box, read_samples

OUTLINE = (255, 0, 64)


def read_curated_file(path: str | Path) -> list[str]:
    """The sample ids of a curated list file: one per line, blank lines and ``#`` comments
    skipped, duplicates kept once.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("# kept\\n00001_lion\\n\\n00003_sofa  # a good one\\n00001_lion\\n")
    >>> read_curated_file(f.name)
    ['00001_lion', '00003_sofa']
    """
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return list(dict.fromkeys(line for line in lines if line))


def outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it (image borders count as inside).

    >>> outline(np.pad(np.ones((3, 3), bool), 1)).astype(int)[1:4, 1:4]
    array([[1, 1, 1],
           [1, 0, 1],
           [1, 1, 1]])
    """
    padded = np.pad(mask, 1, mode="edge")
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def thumbnail(image: np.ndarray, label: np.ndarray, square: Box, size: int) -> Image.Image:
    """The context crop around ``square`` at ``size`` px, the anomaly's outline drawn on it."""
    drawn = image.copy()
    drawn[outline(label == lb.ANOMALY_YES)] = OUTLINE
    crop = context_box(square, *image.shape[:2])
    return Image.fromarray(drawn).crop(crop.pil).resize((size, size), Image.LANCZOS)


def write_curation_page(out, shards: Sequence[str], curated: Sequence[str], *, size: int = 192) -> pd.DataFrame:
    """``out/index.html`` and ``out/thumbnails/<id>.jpg`` for the detected samples of the
    'objects' shards, ``curated`` checked; the table of the samples shown."""
    from segrel.core.formats import read_image

    out = Path(out)
    samples = read_samples(shards)
    samples = samples[samples.detected.astype(bool)].reset_index(drop=True)
    (out / "thumbnails").mkdir(parents=True)
    for row in samples.itertuples():
        shard = next(Path(s) for s in shards if (Path(s) / "images" / f"{row.sample}.png").is_file())
        image = read_image(shard / "images" / f"{row.sample}.png")
        label = np.asarray(Image.open(shard / "labels" / f"{row.sample}_labels_semantic.png"))
        square = Box(int(row.top), int(row.left), int(row.side))
        thumbnail(image, label, square, size).save(out / "thumbnails" / f"{row.sample}.jpg", quality=90)
    unknown = sorted(set(curated) - set(samples["sample"]))
    if unknown:
        raise ValueError(f"generation.anomalies.curated names samples that are not detected: {', '.join(unknown[:5])}"
                         " (see results/tables/generate/inpainting_detections.csv); remove them from the list")
    rows = samples[["sample", "object", "source", "mask_pixels"]].to_dict("records")
    page = PAGE.replace("$SAMPLES", _json(rows)).replace("$CURATED", _json(list(curated)))
    page = page.replace("$SIZE", str(size)).replace("$TITLE", html.escape(f"{len(rows)} inpainted samples"))
    (out / "index.html").write_text(page)
    return samples


def _json(value) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>segrel curation: $TITLE</title>
<style>
body { font-family: sans-serif; margin: 0; background: #f4f4f4; }
header { position: sticky; top: 0; background: #fff; padding: 8px 12px; border-bottom: 1px solid #ccc; z-index: 1; }
header p { margin: 4px 0; font-size: 13px; color: #444; }
#grid { display: flex; flex-wrap: wrap; gap: 6px; padding: 8px; }
.card { background: #fff; border: 3px solid #ddd; padding: 3px; font-size: 12px; cursor: pointer; }
.card.kept { border-color: #1a7f37; background: #e9f7ee; }
.card img { display: block; width: $SIZEpx; height: $SIZEpx; }
.card label { display: flex; gap: 4px; align-items: center; cursor: pointer; }
textarea { width: 100%; height: 4em; font-family: monospace; font-size: 11px; }
</style></head>
<body>
<header>
<strong>segrel curation: $TITLE</strong> &mdash; <span id="count"></span>
<p>Tick the samples whose object looks real and is well masked (the red outline). Choices are kept in this
browser while you work. Then <button id="download">download curated.txt</button>, save it (e.g. as
<code>config/curated.txt</code>) and set <code>generation.anomalies.curated: config/curated.txt</code>.</p>
<p>object <select id="object"><option value="">all</option></select>
show <select id="show"><option value="all">all</option><option value="kept">ticked</option>
<option value="left">not ticked</option></select>
<button id="tick">tick shown</button> <button id="untick">untick shown</button>
<button id="reset">reset to the config's list</button></p>
<textarea id="list" readonly aria-label="curated.txt"></textarea>
</header>
<div id="grid"></div>
<script>
const samples = $SAMPLES;
const configured = $CURATED;
const storageKey = "segrel-curation:" + location.pathname;
let kept = new Set(JSON.parse(localStorage.getItem(storageKey) || "null") || configured);
const grid = document.getElementById("grid");
const cards = samples.map(sample => {
  const card = document.createElement("div");
  card.className = "card";
  card.dataset.sample = sample.sample;
  card.dataset.object = sample.object;
  card.innerHTML = `<img loading="lazy" src="thumbnails/${sample.sample}.jpg" alt="${sample.sample}">` +
    `<label><input type="checkbox"> ${sample.sample}</label>`;
  const box = card.querySelector("input");
  box.addEventListener("change", () => {
    box.checked ? kept.add(sample.sample) : kept.delete(sample.sample);
    update();
  });
  grid.appendChild(card);
  return card;
});
for (const name of [...new Set(samples.map(s => s.object))]) {
  document.getElementById("object").add(new Option(name, name));
}
function shown(card) {
  const object = document.getElementById("object").value, show = document.getElementById("show").value;
  const isKept = kept.has(card.dataset.sample);
  return (!object || card.dataset.object === object) && (show === "all" || (show === "kept") === isKept);
}
function curatedText() {
  return samples.map(s => s.sample).filter(id => kept.has(id)).join("\\n") + (kept.size ? "\\n" : "");
}
function update() {
  for (const card of cards) {
    const isKept = kept.has(card.dataset.sample);
    card.querySelector("input").checked = isKept;
    card.classList.toggle("kept", isKept);
    card.style.display = shown(card) ? "" : "none";
  }
  document.getElementById("count").textContent = `${kept.size} of ${samples.length} ticked`;
  document.getElementById("list").textContent = curatedText();  // readonly: its text is its value
  localStorage.setItem(storageKey, JSON.stringify([...kept]));
}
function tickShown(on) {
  for (const card of cards.filter(shown)) { on ? kept.add(card.dataset.sample) : kept.delete(card.dataset.sample); }
  update();
}
document.getElementById("object").onchange = update;
document.getElementById("show").onchange = update;
document.getElementById("tick").onclick = () => tickShown(true);
document.getElementById("untick").onclick = () => tickShown(false);
document.getElementById("reset").onclick = () => { kept = new Set(configured); update(); };
document.getElementById("download").onclick = () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([curatedText()], {type: "text/plain"}));
  link.download = "curated.txt";
  link.click();
};
update();
</script>
</body></html>
"""
