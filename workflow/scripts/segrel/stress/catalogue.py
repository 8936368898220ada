"""The names of every image corruption segrel renders, by family (no numpy: the config checks
read it at every Snakemake parse)."""

#: the 15 corruptions of ImageNet-C / Cityscapes-C (SemSegBench), then the 4 "extra" ones
COMMON_2D = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression")
EXTRA_2D = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
CORRUPTIONS_2D = COMMON_2D + EXTRA_2D
#: 3DCC's corruptions from depth, then its RGB-only ones
DEPTH_3D = ("near_focus", "far_focus", "fog_3d")
RGB_3D = ("low_light", "iso_noise", "color_quant")
CORRUPTIONS_3D = DEPTH_3D + RGB_3D
#: physics-based renderings of a real image from its depth (and labels): segrel.stress.physics
PHYSICS = ("physics_fog", "physics_rain")
#: XImageNet-12's background scenarios, adapted (segrel.stress.scenarios): no severity
SCENARIOS = ("blurred_background", "blurred_objects", "grey", "colour_shift", "random_background",
             "segmented_objects", "ai_background")
#: the scenarios painted by the generation stage's inpainting model (segrel.stress.backgrounds)
PAINTED_SCENARIOS = ("ai_background",)
#: every corruption a test set can carry (test_sets.<name>.corruption.name)
CORRUPTIONS = CORRUPTIONS_2D + CORRUPTIONS_3D + PHYSICS + SCENARIOS
#: what needs each image's depth
NEEDS_DEPTH = DEPTH_3D + PHYSICS
#: the corruptions (not scenarios) that read each image's segmentation labels (rain falls on the ground)
NEEDS_LABELS = ("physics_rain",)
SEVERITIES = (1, 2, 3, 4, 5)
#: dataset formats whose files give each image's depth (segrel.stress.depth)
FORMATS_WITH_DEPTH = ("cityscapes",)


def family(name: str) -> str:
    """The proxy family of a corruption: 2D, 3D, physics or scenario.

    >>> family("fog"), family("fog_3d"), family("physics_fog"), family("grey")
    ('2D', '3D', 'physics', 'scenario')
    """
    if name in CORRUPTIONS_2D:
        return "2D"
    if name in CORRUPTIONS_3D:
        return "3D"
    if name in PHYSICS:
        return "physics"
    if name in SCENARIOS:
        return "scenario"
    raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")


def severity_problem(name: str, severity: int | None) -> str | None:
    """What is wrong with ``severity`` for corruption ``name`` (a scenario has none), or None."""
    if name in SCENARIOS:
        return None if severity is None else f"scenario {name} has no severity (got {severity!r}); leave it out"
    if severity not in SEVERITIES:
        return f"{severity!r} is out of range; severities are 1-5"
    return None


def check_corruption(name: str, severity: int | None) -> None:
    """One error naming the known corruptions, or what is wrong with the severity."""
    family(name)
    problem = severity_problem(name, severity)
    if problem:
        raise ValueError(f"corruption severity: {problem}")


def stressed_name(test_set: str, name: str, severity: int | None = None) -> str:
    """The test set of ``test_set`` under corruption ``name`` at ``severity`` (none for a scenario).

    >>> stressed_name("cityscapes_val", "gaussian_noise", 3), stressed_name("cityscapes_val", "grey")
    ('cityscapes_val-gaussian_noise-3', 'cityscapes_val-grey')
    """
    return f"{test_set}-{name}" if severity is None else f"{test_set}-{name}-{severity}"


#: the 2D (or RGB-only 3DCC) corruption that imitates each real shift; rain and IDD have none
MATCHED_CORRUPTION = {"fog": "fog", "snow": "snow", "night": "low_light"}

#: SemSegBench's attacks (segrel.stress.attacks) and their budgets' norms
ATTACKS = ("pgd", "segpgd", "cospgd", "bim")
ATTACK_NORMS = ("linf", "l2")
