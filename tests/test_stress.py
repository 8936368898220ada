"""The stress stage's first pieces against independent references: imagecorruptions itself
(seeded as segrel seeds it), hand-computed GAM and S_robust."""

import json
import random
import re

import imagecorruptions
import numpy as np
import pytest

from segrel.stress import corrupt, gam, s_robust
from segrel.stress.catalogue import CORRUPTIONS_2D
from segrel.stress.corruptions import corruption_seed


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return (rng.random((64, 96, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("name", CORRUPTIONS_2D)
def test_every_2d_corruption_is_reproducible_and_is_imagecorruptions(image, name):
    seed = corruption_seed(0, "img", name, 3)
    np.random.seed(123)
    random.seed(123)
    before = np.random.get_state()[1].copy()
    first = corrupt(image, name, 3, seed)
    assert np.array_equal(np.random.get_state()[1], before)  # numpy's global state untouched
    np.random.rand(5)  # whatever ran in between
    assert np.array_equal(corrupt(image, name, 3, seed), first)
    assert first.shape == image.shape and first.dtype == np.uint8
    # the library's own result under the same seeds
    np.random.seed(seed)
    kwargs = {"seed": seed} if name in ("impulse_noise", "glass_blur") else {}
    assert np.array_equal(imagecorruptions.corrupt(image, severity=3, corruption_name=name, **kwargs), first)


def test_seeds_differ_per_image_and_severity(image):
    assert corruption_seed(0, "a", "fog", 3) != corruption_seed(0, "b", "fog", 3)
    assert corruption_seed(0, "a", "fog", 3) != corruption_seed(0, "a", "fog", 4)
    noisy = [corrupt(image, "gaussian_noise", 2, seed) for seed in (1, 2)]
    assert not np.array_equal(*noisy)


def test_bad_corruptions_are_refused(image):
    with pytest.raises(ValueError, match="unknown corruption 'rain'; known: gaussian_noise, shot_noise"):
        corrupt(image, "rain", 3, 0)
    with pytest.raises(ValueError, match="severity: 6 is out of range; severities are 1-5"):
        corrupt(image, "fog", 6, 0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB image, got float64"):
        corrupt(image.astype(float), "fog", 3, 0)


def test_gam_and_s_robust_by_hand():
    assert gam({"fog": 0.61, "snow": 0.42}) == 0.42
    assert gam([0.3]) == 0.3
    # mu 0.8; C = 0.6, 0.8 -> var_cross (0.04 + 0) / 2 = 0.02; C' = 0.7, 0.9 -> (0.01 + 0.01) / 2 = 0.01
    assert s_robust({"blur": 0.6, "grey": 0.8}, {"blur": 0.7, "grey": 0.9}, 0.8) == pytest.approx(0.97)
    assert s_robust([0.8], [0.8], 0.8) == 1.0
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\], got \[61.0\]"):
        gam([61.0])
    with pytest.raises(ValueError, match="no value"):
        s_robust([], [0.5], 0.5)


# --- 3DCC: against independent references (scipy's Gaussian filter, PIL's posterize, hand-computed
# formulas and the noise models' moments) -------------------------------------------------------

def _two_planes(near=1.0, far=10.0, shape=(40, 60)):
    """Left half at ``near`` metres, right half at ``far``; a random image."""
    depth = np.full(shape, far)
    depth[:, : shape[1] // 2] = near
    image = (np.random.default_rng(3).random((*shape, 3)) * 255).astype(np.uint8)
    return image, depth


def _scipy_blur(image, radius):
    """3DCC's separable Gaussian (std r on int(3r) taps made odd, replicated borders) by scipy."""
    from scipy.ndimage import gaussian_filter

    taps = int(radius * 3) | 1
    return np.stack([gaussian_filter(image[..., c].astype(np.float64) / 255, radius, mode="nearest",
                                     truncate=(taps // 2) / radius) for c in range(3)], axis=-1)


@pytest.mark.parametrize("severity", [1, 4])
def test_near_focus_keeps_the_nearest_plane_sharp_and_blurs_the_far_one_by_its_circle_of_confusion(severity):
    image, depth = _two_planes()
    out = corrupt(image, "near_focus", severity, 0, depth=depth)
    near, far = np.s_[:, :30], np.s_[:, 30:]
    assert np.array_equal(out[near], image[near])  # circle of confusion ~0 at the focus
    # the focus is the nearest depth (minus 3DCC's 1e-4); aperture = severity + 2
    radius = (severity + 2) * (10.0 - (1.0 - 1e-4)) / 10.0
    expected = (_scipy_blur(image, radius) * 255).astype(np.uint8)
    assert np.abs(out[far].astype(int) - expected[far]).max() <= 1  # float32 vs float64 at the truncation


def test_far_focus_keeps_the_far_plane_sharp_with_a_smaller_aperture():
    image, depth = _two_planes()
    out = corrupt(image, "far_focus", 2, 0, depth=depth)
    assert np.array_equal(out[:, 30:], image[:, 30:])  # the 7/8 depth quantile is the far plane
    radius = (2 + 2 - 1.5) * 9.0  # |1 - 10| / 1
    expected = (_scipy_blur(image, radius) * 255).astype(np.uint8)
    assert np.abs(out[:, :30].astype(int) - expected[:, :30]).max() <= 1


def test_fog_3d_by_hand_with_the_images_own_airlight():
    image = np.zeros((2, 2, 3), np.uint8)
    image[0] = 200  # mean over the image and channels: 100 / 255
    depth = np.array([[5.0, 10.0], [np.inf, 0.0]])  # invalid depths take the largest valid one (10)
    out = corrupt(image, "fog_3d", 2, 0, depth=depth)  # alpha = 8; depth / max = 0.5, 1, 1, 1
    airlight = 100 / 255
    for (row, col), scaled in {(0, 0): 0.5, (0, 1): 1.0, (1, 0): 1.0, (1, 1): 1.0}.items():
        t = np.exp(-8 * scaled)
        value = image[row, col, 0] / 255 * t + airlight * (1 - t)
        assert out[row, col, 0] == int(value * 255)
    # an image does not depend on others: the same image alone or beside a brighter one
    assert np.array_equal(corrupt(image, "fog_3d", 2, 0, depth=depth), out)


def test_color_quant_is_pils_posterize():
    from PIL import Image, ImageOps

    image = (np.random.default_rng(0).random((8, 9, 3)) * 255).astype(np.uint8)
    for severity in range(1, 6):
        expected = np.asarray(ImageOps.posterize(Image.fromarray(image), 6 - severity))
        assert np.array_equal(corrupt(image, "color_quant", severity, 0), expected)


def test_iso_noise_has_the_poisson_gaussian_moments():
    grey = np.full((200, 200, 3), 128, np.uint8)
    out = corrupt(grey, "iso_noise", 1, 7).astype(np.float64) / 255
    level = 128 / 255
    # Poisson(25 x) / 25 has variance x / 25; the electronic noise 0.7 x 0.08; the uint8 truncation
    # lowers the mean by ~0.5 / 255
    assert out.mean() == pytest.approx(level - 0.5 / 255, abs=0.003)
    assert out.std() == pytest.approx(np.sqrt(level / 25 + (0.7 * 0.08) ** 2), rel=0.03)
    assert np.array_equal(corrupt(grey, "iso_noise", 1, 7), corrupt(grey, "iso_noise", 1, 7))
    assert not np.array_equal(corrupt(grey, "iso_noise", 1, 7), corrupt(grey, "iso_noise", 1, 8))


def test_low_light_maps_the_range_to_zero_c_with_gamma_two():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, 50:] = 255
    image[:, 25:50] = 128  # half way up the range: (0.5)^2 of c
    for severity, c in [(1, 0.6), (5, 0.2)]:
        out = corrupt(image, "low_light", severity, 1).astype(np.float64) / 255
        assert out[:, 50:].mean() == pytest.approx(c, abs=0.01)
        assert out[:, 25:50].mean() == pytest.approx(c * (128 / 255) ** 2, abs=0.01)


def test_depth_corruptions_need_a_depth_of_the_images_size(image):
    with pytest.raises(ValueError, match="needs the image's depth"):
        corrupt(image, "fog_3d", 3, 0)
    with pytest.raises(ValueError, match="same size"):
        corrupt(image, "near_focus", 3, 0, depth=np.ones((3, 3)))
    with pytest.raises(ValueError, match="no valid"):
        corrupt(image, "near_focus", 3, 0, depth=np.zeros(image.shape[:2]))
    with pytest.raises(ValueError, match="needs the image's labels"):
        corrupt(image, "physics_fog", 3, 0)


# --- depth and the physics proxies ---------------------------------------------------------------

def _cityscapes_frame(root, image, disparity, camera):
    from segrel.core.io import save_png

    save_png(root / "leftImg8bit/val/city/city_000000_000019_leftImg8bit.png", image)
    save_png(root / "disparity/val/city/city_000000_000019_disparity.png", disparity.astype(np.uint16))
    path = root / "camera/val/city/city_000000_000019_camera.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(camera))
    return root / "leftImg8bit/val/city/city_000000_000019_leftImg8bit.png"


CAMERA = {"extrinsic": {"baseline": 0.2}, "intrinsic": {"fx": 100.0, "fy": 100.0, "u0": 1.0, "v0": 0.0}}


def test_cityscapes_depth_from_disparity_and_camera_files(tmp_path):
    from segrel.stress.depth import cityscapes_depth

    # p = 257 -> d = 1 px -> 0.2 x 100 / 1 = 20 m; p = 513 -> d = 2 -> 10 m; p = 0 and 1 invalid
    disparity = np.array([[257, 513, 0, 1]])
    path = _cityscapes_frame(tmp_path, np.zeros((1, 4, 3), np.uint8), disparity, CAMERA)
    depth = cityscapes_depth(path)
    assert depth.depth.tolist() == [[20.0, 10.0, np.inf, np.inf]]
    # ray length: column 0 is 1 px left of the principal point
    assert depth.distance()[0, 0] == pytest.approx(20.0 * np.sqrt(1 + 0.01 ** 2))
    (tmp_path / "camera/val/city/city_000000_000019_camera.json").unlink()
    with pytest.raises(FileNotFoundError, match="camera_trainvaltest.zip"):
        cityscapes_depth(path)


def _srgb_to_linear(v):
    v = v / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _linear_to_srgb8(v):
    v = min(max(v, 0.0), 1.0)
    return round(255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055))


def test_physics_fog_is_koschmieder_with_the_images_own_airlight():
    from segrel.stress.depth import Depth
    from segrel.stress.physics import physics_fog

    image = np.full((20, 20, 3), 60, np.uint8)
    image[:10] = (230, 235, 240)  # the bright sky: the airlight (dark channel's brightest)
    depth = np.full((20, 20), 50.0)
    depth[:10] = np.inf
    out = physics_fog(image, Depth(depth, fx=1e6, fy=1e6, u0=10, v0=15), 3)  # visibility 150 m
    t = np.exp(-3 / 150 * 50)
    for channel, sky in enumerate((230, 235, 240)):
        expected = _linear_to_srgb8(_srgb_to_linear(60) * t + _srgb_to_linear(sky) * (1 - t))
        assert out[15, 10, channel] == expected
        assert out[0, 0, channel] == sky  # no depth: all airlight, which is the sky itself
    denser = physics_fog(image, Depth(depth, fx=1e6, fy=1e6, u0=10, v0=15), 5)
    assert denser[15, 10, 0] > out[15, 10, 0]


def test_physics_rain_wets_the_ground_and_is_reproducible():
    from segrel.stress.depth import Depth
    from segrel.stress.physics import physics_rain

    image = np.full((64, 64, 3), 120, np.uint8)
    labels = np.full((64, 64), 2, np.uint8)  # building
    labels[40:] = 0  # road
    labels[:10] = 10  # sky
    depth = Depth(np.full((64, 64), 20.0), fx=100, fy=100, u0=32, v0=32)
    first = physics_rain(image, depth, labels, 3, np.random.default_rng(0))
    again = physics_rain(image, depth, labels, 3, np.random.default_rng(0))
    assert np.array_equal(first, again)
    assert first[40:].mean() < first[10:40].mean()  # wet ground is darker than the walls
    assert first.mean() < image.mean()  # overcast


# --- corrupted test sets: a dataset in the source's layout -------------------------------------

def test_a_stressed_set_is_the_test_set_corrupted_with_labels_and_layout_kept(tmp_path):
    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.stress.depth import cityscapes_depth
    from segrel.stress.testsets import StressedSet, write_stressed_set

    write_cityscapes(tmp_path / "cs", seed=0, height=32, width=64, cities={"val": {"lindau": 2, "ulm": 1}})
    source = formats.list_samples("cityscapes", tmp_path / "cs", "val", "lindau")
    for name in ("fog", "fog_3d", "physics_fog"):
        spec = StressedSet("cityscapes", str(tmp_path / "cs"), "val", "lindau", name, 2, seed=5)
        assert write_stressed_set(spec, tmp_path / name) == 2
        copied = formats.list_samples("cityscapes", tmp_path / name, "val", "lindau")
        assert [s.name for s in copied] == [s.name for s in source]
        assert not list((tmp_path / name).rglob("*ulm*"))
        for original, corrupted in zip(source, copied):
            assert corrupted.label.read_bytes() == original.label.read_bytes()
            if name != "physics_fog":
                depth = cityscapes_depth(original.image).depth if name == "fog_3d" else None
                expected = corrupt(formats.read_image(original.image), name, 2,
                                   corruption_seed(5, original.name, name, 2), depth=depth)
                assert np.array_equal(formats.read_image(corrupted.image), expected)
    first = (tmp_path / "fog" / copied[0].image.relative_to(tmp_path / "physics_fog")).read_bytes()
    # again, with the first image only: the same bytes
    assert write_stressed_set(StressedSet("cityscapes", str(tmp_path / "cs"), "val", "lindau", "fog", 2, seed=5,
                                          images=1), tmp_path / "again") == 1
    assert (tmp_path / "again" / copied[0].image.relative_to(tmp_path / "physics_fog")).read_bytes() == first


# --- config: corrupted test sets are datasets and test sets of their own ------------------------

def _config(**stress):
    return {
        "datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"},
                     "acdc": {"format": "acdc", "source": "demo"}},
        "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val", "subset": "frankfurt"},
                      "acdc_fog": {"dataset": "acdc", "split": "train", "subset": "fog"}},
        "analysis": {"comparisons": {}},
        "stress": stress,
    }


def _validated(config):
    from segrel.config import validate_config

    return validate_config(config, REPO / "workflow/schemas/config.schema.yaml")


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_stress_corruptions_become_test_sets_reading_their_own_datasets():
    from segrel.stress.checks import gam_test_sets, proxy_families

    config = _validated(_config(test_set="cityscapes_val", corruptions=["fog", "gaussian_noise", "fog_3d",
                                                                      "physics_fog", "low_light"],
                                curves={"corruptions": ["fog"], "severities": [1, 3]},
                                proxy_study={"fog": "acdc_fog", "night": "cityscapes_val"}))
    stressed = {name for name, spec in config["test_sets"].items() if "corruption" in spec}
    assert stressed == {"cityscapes_val-fog-3", "cityscapes_val-gaussian_noise-3", "cityscapes_val-fog_3d-3",
                        "cityscapes_val-physics_fog-3", "cityscapes_val-low_light-3", "cityscapes_val-fog-1"}
    assert config["test_sets"]["cityscapes_val-fog-1"]["dataset"] == "cityscapes_val-fog-1"
    copy = config["datasets"]["cityscapes_val-fog-1"]
    assert (copy["format"], copy["source"]) == ("cityscapes", "generated")
    assert copy["stress"] == {"dataset": "cityscapes", "split": "val", "subset": "frankfurt", "name": "fog",
                              "severity": 1}
    assert _validated(config) == config  # idempotent
    assert gam_test_sets(config) == {"cityscapes_val-gaussian_noise-3": "gaussian_noise", "cityscapes_val-fog-3": "fog"}
    families = proxy_families(config)
    assert families["fog"] == {"Cityscapes val": ["cityscapes_val"], "physics": ["cityscapes_val-physics_fog-3"],
                               "matched corruption": ["cityscapes_val-fog-3"],
                               "2D mean": ["cityscapes_val-gaussian_noise-3", "cityscapes_val-fog-3"],
                               "3D fog": ["cityscapes_val-fog_3d-3"]}
    assert families["night"]["matched corruption"] == ["cityscapes_val-low_light-3"]


@pytest.mark.parametrize("stress, test_sets, message", [
    ({"test_set": "cityscapes_val", "corruptions": ["rain"]}, {},
     "'stress.corruptions': unknown corruption 'rain'; known: gaussian_noise"),
    ({"test_set": "nowhere", "corruptions": ["fog"]}, {}, "'stress.test_set': no test set named 'nowhere'"),
    ({}, {"fog6": {"dataset": "cityscapes", "corruption": {"name": "fog", "severity": 6}}},
     "'test_sets.fog6.corruption.severity': 6 is out of range; severities are 1-5"),
    ({}, {"acdc3d": {"dataset": "acdc", "corruption": {"name": "near_focus", "severity": 2}}},
     "'test_sets.acdc3d.corruption.name': near_focus renders from each image's depth, which dataset 'acdc'"),
    ({"test_set": "acdc_fog", "corruptions": ["physics_fog"]}, {},
     "'test_sets.acdc_fog-physics_fog-3.corruption.name': physics_fog renders from each image's depth"),
    ({}, {"cityscapes": {"dataset": "cityscapes", "corruption": {"name": "fog", "severity": 1}}},
     "datasets.cityscapes exists already: rename the test set"),
    ({"test_set": "cityscapes_val", "proxy_study": {"fog": "acdc_foggy"}}, {},
     "'stress.proxy_study.fog': no test set named 'acdc_foggy'"),
])
def test_bad_stress_configs_are_refused_at_config_time_naming_the_fix(stress, test_sets, message):
    from segrel.config import ConfigError

    config = _config(**stress)
    config["test_sets"].update(test_sets)
    with pytest.raises(ConfigError, match=re.escape(message)):
        _validated(config)


def _metrics(values: dict[str, list[float]], models=("a", "b", "c", "d")):
    import pandas as pd

    return pd.DataFrame([{"model": model, "test_set": test_set, "measure": "miou", "score": "", "value": value}
                         for test_set, column in values.items() for model, value in zip(models, column)])


def test_gam_and_proxy_tables_by_hand_and_by_scipy():
    from scipy import stats

    from segrel.stress.tables import corruption_table, gam_table, proxy_table

    metrics = _metrics({"clean": [0.8, 0.6, 0.5, 0.7], "clean-fog-3": [0.5, 0.2, 0.3, 0.6],
                        "clean-contrast-3": [0.4, 0.5, 0.1, 0.65], "real": [0.3, 0.2, 0.1, 0.35]})
    gams = gam_table(metrics, {"clean-fog-3": "fog", "clean-contrast-3": "contrast"}, "clean").set_index("model")
    assert gams.gam.tolist() == [0.4, 0.2, 0.1, 0.6]
    assert gams.worst_corruption.tolist() == ["contrast", "fog", "contrast", "fog"]
    assert gams.mean_corruption_miou.tolist() == pytest.approx([0.45, 0.35, 0.2, 0.625])
    rows = corruption_table(metrics, {"clean-fog-3": {"corruption": "fog", "family": "2D", "severity": 3}}, "clean")
    assert rows.set_index("model").clean_miou["b"] == 0.6 and rows.set_index("model").miou["b"] == 0.2
    families = {"fog": {"clean": ["clean"], "mean": ["clean-fog-3", "clean-contrast-3"]}}
    proxies = proxy_table(metrics, {"fog": "real"}, families, confidence=0.95, resamples=100, seed=0)
    proxies = proxies.set_index("family")
    real = [0.3, 0.2, 0.1, 0.35]
    assert proxies.pearson_r["clean"] == pytest.approx(stats.pearsonr([0.8, 0.6, 0.5, 0.7], real).statistic)
    assert proxies.pearson_r["mean"] == pytest.approx(stats.pearsonr([0.45, 0.35, 0.2, 0.625], real).statistic)
    assert proxies["rank"].to_dict() == {"clean": 2, "mean": 1}
    with pytest.raises(ValueError, match=r"no value for test set\(s\) \['clean-snow-3'\]"):
        gam_table(metrics, {"clean-snow-3": "snow"}, "clean")


# --- background scenarios (XImageNet-12 adapted to segmentation) --------------------------------

def _scene():
    """A 20 x 40 image: a car (train id 13) in the middle, road below, sky above (stored
    Cityscapes labelIds: car 26, road 7, sky 23)."""
    rng = np.random.default_rng(4)
    image = (rng.random((20, 40, 3)) * 255).astype(np.uint8)
    stored = np.full((20, 40), 23, np.uint8)
    stored[10:] = 7
    stored[6:14, 15:25] = 26
    return image, stored


def test_scenarios_by_hand():
    from scipy.ndimage import gaussian_filter

    from segrel.core.formats import to_labels
    from segrel.stress.scenarios import apply_scenario

    image, stored = _scene()
    train = to_labels("cityscapes", stored)
    car = np.zeros((20, 40), bool)
    car[6:14, 15:25] = True
    blurred, ids = apply_scenario("blurred_background", image, train, stored, void_id=0)
    assert np.array_equal(blurred[car], image[car]) and np.array_equal(ids, stored)
    reference = np.stack([gaussian_filter(image[..., c].astype(float), 0.4, mode="reflect", truncate=3)
                          for c in range(3)], axis=-1)  # std 1% of the width
    assert np.abs(blurred[~car].astype(int) - np.round(reference[~car])).max() <= 1
    blurred, _ = apply_scenario("blurred_objects", image, train, stored, void_id=0)
    assert np.array_equal(blurred[~car], image[~car]) and not np.array_equal(blurred[car], image[car])
    grey, _ = apply_scenario("grey", image, train, stored, void_id=0)
    r, g, b = image[3, 4].astype(float)
    assert grey[3, 4].tolist() == [round(0.299 * r + 0.587 * g + 0.114 * b)] * 3
    shifted, _ = apply_scenario("colour_shift", image, train, stored, void_id=0)
    assert shifted[3, 4].tolist() == [image[3, 4, 1], image[3, 4, 2], image[3, 4, 0]]
    alone, ids = apply_scenario("segmented_objects", image, train, stored, void_id=0)
    assert np.array_equal(alone[car], image[car]) and not alone[~car].any()
    assert set(np.unique(ids[~car])) == {0} and np.array_equal(ids[car], stored[car])
    other_image, other_ids = np.full_like(image, 9), np.full_like(stored, 21)  # vegetation behind the car
    mixed, ids = apply_scenario("random_background", image, train, stored, void_id=0, other=(other_image, other_ids))
    assert np.array_equal(mixed[car], image[car]) and (mixed[~car] == 9).all()
    assert np.array_equal(ids[car], stored[car]) and (ids[~car] == 21).all()


# Cityscapes' labelIds -> trainIds (cityscapesscripts' labels.py; 255 = ignored)
CITYSCAPES_TRAIN_IDS = np.full(256, 255, np.uint8)
CITYSCAPES_TRAIN_IDS[[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]] = np.arange(19)


def test_scenario_sets_rewrite_the_labels_in_the_formats_own_ids(tmp_path):
    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.stress.testsets import StressedSet, write_stressed_set

    write_cityscapes(tmp_path / "cs", seed=0, height=32, width=64, cities={"val": {"lindau": 3}})
    source = formats.list_samples("cityscapes", tmp_path / "cs", "val")
    for name in ("segmented_objects", "random_background"):
        spec = StressedSet("cityscapes", str(tmp_path / "cs"), "val", "*", name, None, seed=0)
        write_stressed_set(spec, tmp_path / name)
        copied = formats.list_samples("cityscapes", tmp_path / name, "val")
        for original, changed in zip(source, copied, strict=True):
            things = np.isin(formats.read_label("cityscapes", original.label), range(11, 19))
            labels = formats.read_label("cityscapes", changed.label)  # readable as any Cityscapes label
            assert np.array_equal(labels[things], formats.read_label("cityscapes", original.label)[things])
            # mmseg's training labels beside them, Cityscapes' labelIds -> trainIds table
            train_ids = formats.read_ids(str(changed.label).replace("_labelIds", "_labelTrainIds"))
            assert np.array_equal(train_ids, CITYSCAPES_TRAIN_IDS[formats.read_ids(changed.label)])
            if name == "segmented_objects":
                assert (labels[~things] == 255).all()
            else:  # the background (image and labels) of one of the other images
                others = [o for o in source if o.name != original.name]
                assert any(np.array_equal(labels[~things], formats.read_label("cityscapes", o.label)[~things])
                           and np.array_equal(formats.read_image(changed.image)[~things],
                                              formats.read_image(o.image)[~things]) for o in others)


def test_scenario_configs():
    from segrel.config import ConfigError

    config = _validated(_config(test_set="cityscapes_val", scenarios=["grey", "random_background"]))
    assert config["test_sets"]["cityscapes_val-grey"]["corruption"] == {"name": "grey"}
    with pytest.raises(ConfigError, match="scenario grey has no severity"):
        _validated({**_config(), "test_sets": {"cityscapes_val": {"dataset": "cityscapes"},
                                               "g": {"dataset": "cityscapes", "corruption": {"name": "grey",
                                                                                             "severity": 2}}}})
    with pytest.raises(ConfigError, match="'stress.scenarios': unknown scenario 'fog'"):
        _validated(_config(test_set="cityscapes_val", scenarios=["fog"]))
    smiyc = _config()
    smiyc["datasets"]["smiyc"] = {"format": "smiyc", "source": "demo"}
    smiyc["test_sets"]["smiyc_grey"] = {"dataset": "smiyc", "split": "validation", "corruption": {"name": "grey"}}
    with pytest.raises(ConfigError, match="thing classes, which dataset 'smiyc' \\(smiyc\\) has no labels of"):
        _validated(smiyc)


MODELS = {"m": {"family": "FCN", "base": "fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py"}}


def test_scenario_training_adds_training_copies_and_is_refused_naming_the_fix():
    from segrel.config import ConfigError

    stress = {"test_set": "cityscapes_val", "scenarios": ["grey", "segmented_objects"],
              "scenario_training": {"models": ["m"], "images": 5}}
    config = _validated({**_config(**stress), "models": MODELS})
    assert config["datasets"]["cityscapes_train-grey"]["stress"] == {
        "dataset": "cityscapes", "split": "train", "subset": "*", "name": "grey", "images": 5}
    assert "cityscapes_train-grey" not in config["test_sets"]  # trained on, not evaluated
    problems = {
        "'stress.scenario_training.models': no model named 'n'": {"scenario_training": {"models": ["n"]}},
        "stress.scenarios is empty: list the scenarios, or no models": {"scenarios": []},
        "'stress.scenario_training.train_dataset': 'acdc' is a acdc dataset; models are trained on the train split "
        "of a cityscapes-format dataset": {"scenario_training": {"models": ["m"], "train_dataset": "acdc"}},
    }
    for message, change in problems.items():
        bad = {**_config(**{**stress, **change}), "models": MODELS}
        with pytest.raises(ConfigError, match=re.escape(message)):
            _validated(bad)


def test_s_robust_table_by_hand():
    from segrel.stress.tables import s_robust_table

    # model a: mu 0.8, C = 0.6 / 0.8, C' = 0.7 / 0.9 -> 1 - (0.02 + 0.01) = 0.97
    # model b: mu 0.5, C = 0.5 / 0.3, C' = 0.5 / 0.5 -> 1 - ((0 + 0.04) / 2 + 0) = 0.98
    metrics = _metrics({"clean": [0.8, 0.5], "clean-blurred_objects": [0.6, 0.5], "clean-grey": [0.8, 0.3]},
                       models=("a", "b"))
    trained = _metrics({"clean-blurred_objects": [0.7, 0.5], "clean-grey": [0.9, 0.5]}, models=("a", "b"))
    scenarios = {"blurred_objects": "clean-blurred_objects", "grey": "clean-grey"}
    table = s_robust_table(metrics, trained, scenarios, "clean")
    assert table.groupby("model").s_robust.first().to_dict() == pytest.approx({"a": 0.97, "b": 0.98})
    grey = table.set_index(["model", "scenario"]).loc[("b", "grey")]
    assert (grey.mu, grey.cross_miou, grey.inner_miou) == (0.5, 0.3, 0.5)
    with pytest.raises(ValueError, match=r"no value for test set\(s\) \['clean-grey'\]"):
        s_robust_table(metrics, trained[trained.test_set != "clean-grey"], scenarios, "clean")


def test_ai_background_is_the_inpainting_models_painting_behind_the_objects(tmp_path):
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.generate.demo import builders
    from segrel.stress.backgrounds import BackgroundSettings, background_painter
    from segrel.stress.testsets import StressedSet, write_stressed_set

    builders.build("inpainting", tmp_path / "inpainting")
    pipeline = StableDiffusionInpaintPipeline.from_pretrained(tmp_path / "inpainting")
    pipeline.set_progress_bar_config(disable=True)
    write_cityscapes(tmp_path / "cs", seed=0, height=64, width=128, cities={"val": {"lindau": 2}})
    settings = BackgroundSettings(prompt="a street", steps=2, guidance=7.5, resolution=64)
    spec = StressedSet("cityscapes", str(tmp_path / "cs"), "val", "*", "ai_background", None, seed=0)
    for out in ("a", "b"):
        write_stressed_set(spec, tmp_path / out, paint=background_painter(pipeline, settings))
    with pytest.raises(ValueError, match="ai_background is painted by the inpainting model"):
        write_stressed_set(spec, tmp_path / "c")
    originals = formats.list_samples("cityscapes", tmp_path / "cs", "val")
    for original, painted, again in zip(originals, formats.list_samples("cityscapes", tmp_path / "a", "val"),
                                        formats.list_samples("cityscapes", tmp_path / "b", "val"), strict=True):
        image, labels = formats.read_image(original.image), formats.read_label("cityscapes", original.label)
        things = np.isin(labels, range(11, 19))
        # diffusers' own painting of the whole 64x128 image, background masked, under the image's seed
        mask = Image.fromarray(np.where(things, 0, 255).astype(np.uint8))
        reference = np.asarray(pipeline(prompt="a street", image=Image.fromarray(image), mask_image=mask, height=64,
                                        width=128, num_inference_steps=2, guidance_scale=7.5,
                                        generator=torch.Generator().manual_seed(spec.seed_of(original))).images[0])
        result = formats.read_image(painted.image)
        assert np.array_equal(result[things], image[things]) and np.array_equal(result[~things], reference[~things])
        assert np.array_equal(result, formats.read_image(again.image))  # seeded
        new_labels = formats.read_label("cityscapes", painted.label)
        assert np.array_equal(new_labels[things], labels[things]) and (new_labels[~things] == 255).all()


# --- estimated depth (datasets without depth files) ----------------------------------------------

def _tiny_estimator(out, **settings):
    from segrel.stress.depth_estimation import DemoEstimatorSettings, build_demo_estimator

    values = {"resolution": 28, "max_depth": 200, "steps": 1, "batch_size": 4, "learning_rate": 3e-3, "seed": 0}
    model, processor = build_demo_estimator(DemoEstimatorSettings(**{**values, **settings}), 2.0)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return model


def test_estimated_depth_is_the_transformers_pipelines_and_feeds_the_3d_corruptions(tmp_path):
    from PIL import Image
    from transformers import pipeline

    from segrel.core import formats
    from segrel.data.demo.writers import write_acdc
    from segrel.stress.corruptions import corruption_seed
    from segrel.stress.depth_estimation import (
        estimated_depth_file,
        load_estimator,
        read_estimated_depth,
        write_depth_set,
    )
    from segrel.stress.testsets import StressedSet, write_stressed_set

    _tiny_estimator(tmp_path / "estimator")
    write_acdc(tmp_path / "acdc", seed=0, height=64, width=128, conditions=["fog"], images={"train": 2, "val": 0})
    samples = formats.list_samples("acdc", tmp_path / "acdc", "train")
    model, processor = load_estimator(str(tmp_path / "estimator"))
    write_depth_set(model, processor, samples, tmp_path / "acdc", tmp_path / "depth", batch_size=2)
    reference = pipeline("depth-estimation", model=str(tmp_path / "estimator"))
    for sample in samples:
        depth = read_estimated_depth(estimated_depth_file(tmp_path / "depth", tmp_path / "acdc", sample.image))
        expected = reference(Image.fromarray(formats.read_image(sample.image)))["predicted_depth"].numpy()
        np.testing.assert_allclose(depth.depth, np.clip(expected, 0.01, None), atol=0.006)  # stored in cm
        assert depth.fx == pytest.approx(2262.52 / 2048 * 128) and depth.u0 == 63.5
    spec = StressedSet("acdc", str(tmp_path / "acdc"), "train", "*", "fog_3d", 3, seed=0,
                       depth_root=str(tmp_path / "depth"))
    write_stressed_set(spec, tmp_path / "fogged")
    for sample, fogged in zip(samples, formats.list_samples("acdc", tmp_path / "fogged", "train"), strict=True):
        depth = read_estimated_depth(estimated_depth_file(tmp_path / "depth", tmp_path / "acdc", sample.image)).depth
        expected = corrupt(formats.read_image(sample.image), "fog_3d", 3, corruption_seed(0, sample.name, "fog_3d", 3),
                           depth=depth)
        assert np.array_equal(formats.read_image(fogged.image), expected)


def test_a_relative_depth_model_is_refused(tmp_path):
    from segrel.stress.depth_estimation import load_estimator

    model = _tiny_estimator(tmp_path / "relative")
    model.config.depth_estimation_type = "relative"
    model.config.save_pretrained(tmp_path / "relative")
    with pytest.raises(ValueError, match="estimates relative depth .*name a metric model"):
        load_estimator(str(tmp_path / "relative"))


def test_the_demo_estimator_learns_the_demo_depth(tmp_path):
    """After a short training it beats the best constant (the median depth) on its scenes."""
    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.stress import depth_estimation as estimation
    from segrel.stress.depth import cityscapes_depth

    write_cityscapes(tmp_path / "cs", seed=0, height=64, width=128, cities={"train": {"aachen": 8}})
    samples = formats.list_samples("cityscapes", tmp_path / "cs", "train")
    settings = estimation.DemoEstimatorSettings(resolution=28, max_depth=200, steps=60, batch_size=4,
                                                learning_rate=3e-3, seed=0)
    estimation.train_demo_estimator(samples, settings, tmp_path / "estimator", log=lambda message: None)
    model, processor = estimation.load_estimator(str(tmp_path / "estimator"))
    predicted = estimation.estimate_depth(model, processor, [formats.read_image(sample.image) for sample in samples])
    truths = [cityscapes_depth(sample.image).depth for sample in samples]
    median = np.median(np.concatenate([truth[np.isfinite(truth)] for truth in truths]))

    def abs_rel(estimate, truth):
        known = np.isfinite(truth) & (truth <= 200)
        return np.mean(np.abs(estimate[known] - truth[known]) / truth[known])

    learnt = np.mean([abs_rel(estimate, truth) for estimate, truth in zip(predicted, truths)])
    constant = np.mean([abs_rel(np.full_like(truth, median), truth) for truth in truths])
    assert learnt < 0.5 * constant, (learnt, constant)


def test_depth_corruptions_of_datasets_without_depth_need_an_estimator():
    from segrel.config import ConfigError
    from segrel.stress.checks import depth_estimates

    def test_sets():  # validation rewrites it (the test set then reads its corrupted copy)
        return {"acdc3d": {"dataset": "acdc", "split": "train", "subset": "fog",
                           "corruption": {"name": "fog_3d", "severity": 2}}}

    config = _config(depth_estimator={"source": "demo"})
    config["test_sets"].update(test_sets())
    config = _validated(config)
    assert depth_estimates(config) == {"acdc3d": ("acdc", "train")}
    assert config["stress"]["depth_estimator"]["train_dataset"] == "cityscapes"  # the schema's defaults
    bad = _config(depth_estimator={"source": "demo", "train_dataset": "acdc"})
    with pytest.raises(ConfigError, match="learns from a dataset with depth files .* not 'acdc'"):
        _validated(bad)
    without = _config()
    without["test_sets"].update(test_sets())
    with pytest.raises(ConfigError, match="configure stress.depth_estimator"):
        _validated(without)
