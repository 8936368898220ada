"""The curation page of the inpainted samples (rule curation_page) and the curated id list it
writes (generation.anomalies.curated as a file)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from segrel.core.io import save_png
from segrel.generate.curation import OUTLINE, thumbnail, write_curation_page
from segrel.generate.inpainting import SAMPLE_COLUMNS, Box

REPO = Path(__file__).resolve().parents[1]


def fake_shard(path: Path, rows: list[dict]) -> Path:
    """A shard as write_anomaly_shard leaves it: a grey image with the object a 6x6 block."""
    for row in rows:
        if row["detected"]:
            image = np.full((32, 64, 3), 100, np.uint8)
            label = np.zeros((32, 64), np.uint8)
            label[row["top"] + 2 : row["top"] + 8, row["left"] + 2 : row["left"] + 8] = 1
            save_png(path / "images" / f"{row['sample']}.png", image)
            save_png(path / "labels" / f"{row['sample']}_labels_semantic.png", label)
    path.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=SAMPLE_COLUMNS).to_csv(path / "samples.csv", index=False)
    return path


@pytest.fixture
def shards(tmp_path):
    def row(sample, obj, detected=True):
        return {"sample": sample, "object": obj, "source": "frankfurt_000000", "seed": 1, "top": 16, "left": 20,
                "side": 10, "detected": detected, "mask_pixels": 36 if detected else 0}

    return [str(fake_shard(tmp_path / "shard-0-of-2", [row("00000_lion", "lion"), row("00001_sofa", "sofa", False)])),
            str(fake_shard(tmp_path / "shard-1-of-2", [row("00002_lion", "lion"), row("00003_sofa", "sofa")]))]


def test_thumbnails_are_the_context_crop_with_the_objects_outline(shards, tmp_path):
    out = tmp_path / "page"
    samples = write_curation_page(out, shards, ["00002_lion"], size=15)
    assert list(samples["sample"]) == ["00000_lion", "00002_lion", "00003_sofa"]  # the undetected one is left out
    assert sorted(p.name for p in (out / "thumbnails").iterdir()) == [f"{s}.jpg" for s in samples["sample"]]
    # the 10 px square at (16, 20) has a 15 px context crop centred on it, at (14, 18) (Python
    # rounds 13.5 and 17.5 to even): the object (image rows 18-23, columns 22-27) is rows and
    # columns 4-9 of the crop, its one-pixel outline drawn red
    image = np.asarray(Image.open(Path(shards[0]) / "images" / "00000_lion.png"))
    label = np.asarray(Image.open(Path(shards[0]) / "labels" / "00000_lion_labels_semantic.png"))
    thumb = np.asarray(thumbnail(image, label, Box(16, 20, 10), 15))  # before JPEG
    expected = np.zeros((15, 15), bool)
    expected[4:10, 4:10] = True
    expected[5:9, 5:9] = False
    assert ((thumb == OUTLINE).all(axis=-1) == expected).all()
    assert (thumb[~expected] == 100).all()

def test_the_page_shows_every_sample_with_the_curated_ones_ticked_in_headless_chromium(shards, tmp_path):
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    assert browser, "headless Chromium is needed to check the page: run `make browser`"
    out = tmp_path / "page"
    write_curation_page(out, shards, ["00002_lion"], size=64)
    command = [browser, "--no-sandbox", "--disable-gpu", "--dump-dom", "--virtual-time-budget=3000",
               (out / "index.html").as_uri()]
    dom = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout
    body = dom.split("<script>")[0]  # what the page drew, not its data
    assert body.count('class="card"') == 2 and body.count('class="card kept"') == 1
    assert 'class="card kept" data-sample="00002_lion"' in body
    assert "1 of 3 ticked" in body
    assert '<textarea id="list" readonly="" aria-label="curated.txt">00002_lion\n</textarea>' in body
    assert '<option value="lion">lion</option><option value="sofa">sofa</option>' in body


def test_a_curated_id_that_is_not_detected_is_refused(shards, tmp_path):
    with pytest.raises(ValueError, match="00001_sofa"):
        write_curation_page(tmp_path / "page", shards, ["00001_sofa"])


def demo_config(curated):
    from segrel.config import validate_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["generation"]["anomalies"]["curated"] = curated
    return validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")


def test_the_curated_list_can_be_the_pages_file(tmp_path):
    from segrel.config import ConfigError

    listed = tmp_path / "curated.txt"
    listed.write_text("# ticked on the page\n00000_lion\n00003_sofa\n")
    config = demo_config(str(listed))
    assert config["generation"]["anomalies"]["curated"] == ["00000_lion", "00003_sofa"]
    assert config["test_sets"]["synthetic_anomalies_curated"]["dataset"] == "synthetic_anomalies_curated"
    with pytest.raises(ConfigError, match="no file .*curation page"):
        demo_config(str(tmp_path / "missing.txt"))
    listed.write_text("00000_lion\n00099_lion\n")  # the demo paints 20 samples
    with pytest.raises(ConfigError, match="00099_lion are not sample ids"):
        demo_config(str(listed))
