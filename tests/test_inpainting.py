"""Inpainting geometry (Loiseau et al.): placement, context crop, blurred mask, paste-back."""

import numpy as np
import pytest
from PIL import Image

from segrel.inpainting import Box, context_box, inpainting_mask, paste_square, place_square


@pytest.mark.parametrize("height, width", [(1024, 2048), (256, 512)])
def test_squares_lie_in_the_lower_three_quarters_at_scaled_sizes(height, width):
    rng = np.random.default_rng(0)
    boxes = [place_square(height, width, rng) for _ in range(500)]
    scale = height / 1024
    sides = np.array([b.side for b in boxes])
    assert sides.min() >= round(256 * scale) and sides.max() <= round(512 * scale)
    assert sides.max() - sides.min() > 0.8 * (512 - 256) * scale  # the whole range is used
    assert all(b.top >= height // 4 and b.top + b.side <= height and 0 <= b.left <= width - b.side for b in boxes)
    with pytest.raises(ValueError, match="does not fit"):
        place_square(100, 100, rng, side_range=(1000, 1000))


def test_context_is_one_and_a_half_times_the_square_and_stays_inside():
    square = Box(top=400, left=1000, side=300)
    context = context_box(square, 1024, 2048)
    assert context.side == 450
    assert (context.top, context.left) == (400 - 75, 1000 - 75)  # centred
    corner = context_box(Box(top=1024 - 300, left=2048 - 300, side=300), 1024, 2048)
    assert corner.top + corner.side == 1024 and corner.left + corner.side == 2048  # shifted in
    assert corner.top <= 1024 - 300 and corner.left <= 2048 - 300  # still holds the square


def test_mask_is_the_blurred_square_at_model_size():
    square, context = Box(300, 300, 200), Box(250, 250, 300)
    sharp = np.asarray(inpainting_mask(square, context, size=300, blur=1), dtype=float)
    expected = np.zeros((300, 300))
    expected[50:250, 50:250] = 255
    np.testing.assert_array_equal(sharp, expected)
    blurred = np.asarray(inpainting_mask(square, context, size=300, blur=41), dtype=float)
    assert blurred[150, 150] == 255 and blurred[0, 0] == 0  # centre kept, far corner untouched
    assert 0 < blurred[150, 50] < 255  # the edge is soft
    assert blurred.sum() == pytest.approx(expected.sum(), rel=0.02)  # a box blur keeps the mass


def test_only_the_square_is_pasted_back():
    image = Image.fromarray(np.zeros((64, 128, 3), np.uint8))
    square, context = Box(30, 40, 20), Box(25, 35, 30)
    inpainted = Image.fromarray(np.full((512, 512, 3), 200, np.uint8))
    result = np.asarray(paste_square(image, inpainted, square, context))
    inside = np.zeros((64, 128), bool)
    inside[30:50, 40:60] = True
    assert (result[inside] == 200).all() and (result[~inside] == 0).all()
