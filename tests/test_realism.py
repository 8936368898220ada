"""FID and KID of image sets (analysis.realism) against clean-fid's own implementations, the
demo's feature network, and which sets are compared."""

from pathlib import Path

import numpy as np
import pytest
import torch

from segrel.analyse.realism import RealismSettings, TinyFeatures, distances, feature_extractor, set_features

DEMO = RealismSettings(source="demo", channels=[8, 16], seed=0, kid_subsets=5, kid_subset_size=1000)


def test_fid_and_kid_are_clean_fids():
    """clean-fid's frechet_distance (scipy's sqrtm) and kernel_distance (the same unbiased
    polynomial-kernel MMD): equal when a KID subset is the whole set (no random draw left)."""
    from cleanfid.fid import frechet_distance, kernel_distance

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 16)), rng.normal(0.3, 1.2, size=(40, 16))
    found = distances(torch.from_numpy(real), torch.from_numpy(fake), DEMO)
    reference = frechet_distance(real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False))
    assert found["fid"] == pytest.approx(reference, rel=1e-9) and found["fid"] > 1
    assert found["kid"] == pytest.approx(kernel_distance(real, fake, num_subsets=5, max_subset_size=1000), rel=1e-9)
    assert found["kid_std"] < 1e-12 and found["kid_subset_size"] == 40
    same = distances(torch.from_numpy(real), torch.from_numpy(real.copy()), DEMO)
    assert abs(same["fid"]) < 1e-6 and same["kid"] < 0  # unbiased: below 0 for one set against itself


def test_kid_subsets_are_seeded_and_no_larger_than_the_smaller_set():
    rng = np.random.default_rng(1)
    real, fake = torch.from_numpy(rng.normal(size=(30, 8))), torch.from_numpy(rng.normal(size=(12, 8)))
    settings = RealismSettings(source="demo", channels=[8], kid_subsets=10, kid_subset_size=20)
    first, again = distances(real, fake, settings), distances(real, fake, settings)
    assert first == again and first["kid_subset_size"] == 12 and first["kid_std"] > 0
    with pytest.raises(ValueError, match="at least 2 images per set"):
        distances(real, fake[:1], settings)


def test_the_demo_network_is_seeded_and_batches_images_of_one_size(tmp_path):
    from segrel.core import formats
    from segrel.data.demo.writers import write_smiyc

    write_smiyc(tmp_path / "smiyc", seed=0, height=64, width=128, images=5, objects_per_image=[1, 1])
    samples = formats.list_samples("smiyc", tmp_path / "smiyc", "validation")
    model = feature_extractor(DEMO)
    assert isinstance(model, TinyFeatures) and model.num_features == 16
    whole = set_features(model, samples, batch_size=16)
    in_twos = set_features(feature_extractor(DEMO), samples, batch_size=2)
    assert whole.shape == (5, 16) and torch.allclose(whole, in_twos, atol=1e-6)
    other = set_features(feature_extractor(RealismSettings(**{**DEMO.__dict__, "seed": 1})), samples, 16)
    assert not torch.allclose(whole, other)
    assert "not Inception" in DEMO.describe()


def test_pairs_are_each_generated_proxy_against_its_target_and_the_reference():
    import yaml

    from segrel.analyse.checks import realism_pairs
    from segrel.config import validate_config

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    validate_config(config, repo / "workflow" / "schemas" / "config.schema.yaml")
    pairs = [(p["test_set"], p["against"], p["role"]) for p in realism_pairs(config)]
    assert pairs[:3] == [("synthetic_fog", "acdc_fog", "real counterpart"),
                         ("synthetic_fog", "domain_reference", "reference"),
                         ("acdc_fog", "domain_reference", "reference")]
    assert ("synthetic_anomalies", "smiyc_anomaly", "real counterpart") in pairs
    # the same domain by the ablation's generator (Table 1), against the same real set
    assert [pair for pair in pairs if pair[0] == "synthetic_fog_sdxl"] == [
        ("synthetic_fog_sdxl", "acdc_fog", "real counterpart"), ("synthetic_fog_sdxl", "domain_reference", "reference")]
    assert len(pairs) == len(set(pairs))
    assert not any("cityscapes_val" in pair[:2] for pair in pairs)  # a real proxy is not generated
    config["analysis"]["realism"]["source"] = None
    assert realism_pairs(config) == []


def test_the_realism_figure_puts_each_proxys_fid_beside_its_pcc_on_the_metric():
    """Hand-built tables: each generated proxy's "real counterpart" row joined to its PCC on the
    metric (not the reference rows, not another metric's PCC, not a proxy without FID)."""
    import pandas as pd

    from segrel.analyse.figures import realism_pcc_figure

    realism = pd.DataFrame({"test_set": ["syn_a", "syn_a", "syn_b", "syn_c", "syn_x"],
                            "against": ["real_a", "reference", "real_b", "real_c", "real_x"],
                            "role": ["real counterpart", "reference", "real counterpart", "real counterpart",
                                     "real counterpart"],
                            "fid": [1.0, 9.0, 2.0, 3.0, 4.0], "kid": [0.1, 0.9, 0.3, 0.2, 0.4],
                            "kid_std": 0.01, "features": "demo"})
    correlations = pd.DataFrame({"comparison": ["a", "a", "b", "c", "c", "x"],
                                 "proxy": ["syn_a", "cityscapes_val", "syn_b", "syn_c", "syn_c", "syn_x"],
                                 "real": ["real_a", "real_a", "real_b", "real_c", "real_c", "real_x"],
                                 "metric": ["miou", "miou", "miou", "miou", "ece", "ood_auroc_msp"],
                                 "n_models": 12, "pearson_r": [0.9, 0.1, 0.5, 0.7, -0.3, 0.2],
                                 "fisher_low": 0.0, "fisher_high": 1.0})
    figure, data = realism_pcc_figure(realism, correlations, "miou")
    assert data[["comparison", "proxy", "fid", "kid", "pearson_r"]].values.tolist() == [
        ["a", "syn_a", 1.0, 0.1, 0.9], ["b", "syn_b", 2.0, 0.3, 0.5], ["c", "syn_c", 3.0, 0.2, 0.7]]
    # scipy: FID ranks 1, 2, 3 against PCC ranks 3, 1, 2 -> rho = -0.5; KID 1, 3, 2 -> -1
    assert [ax.get_title() for ax in figure.axes] == ["Spearman rho = -0.50 (n = 3)", "Spearman rho = -1.00 (n = 3)"]
    with pytest.raises(ValueError, match="pcc_overview.metric"):
        realism_pcc_figure(realism, correlations, "prr")


def test_inception_features_are_torch_fidelitys_read_from_the_weights_file(tmp_path, monkeypatch):
    """``source: inception`` loads the file named by ``weights`` (compute nodes have no internet)
    and computes torch-fidelity's own pool3 features: its TF1-style resize, not torchmetrics'
    antialiased one, which moves them (the second check shows the comparison can fail)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity
    from torchmetrics.image.fid import NoTrainInceptionV3

    def no_download(*args, **kwargs):
        raise AssertionError("the weights were downloaded, not read from the file")

    monkeypatch.setattr(fidelity, "load_state_dict_from_url", no_download)
    empty = tmp_path / "empty.pth"
    torch.save({}, empty)
    with monkeypatch.context() as build:  # seeded random weights in the released file's layout
        build.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        reference = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], str(empty))
    weights = tmp_path / "pt_inception-2015-12-05.pth"
    torch.save(reference.state_dict(), weights)

    images = torch.randint(0, 256, (2, 3, 64, 128), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    model = feature_extractor(RealismSettings(source="inception", weights=str(weights)))
    expected = reference(images)[0]
    found = model(images)
    assert model.num_features == 2048 and found.shape == (2, 2048)
    torch.testing.assert_close(found, expected, rtol=1e-5, atol=0)
    antialiased = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                     feature_extractor_weights_path=str(weights))(images)
    assert not torch.allclose(antialiased, expected, rtol=1e-2, atol=0)
    assert "Inception-v3" in RealismSettings(source="inception", weights=str(weights)).describe()
