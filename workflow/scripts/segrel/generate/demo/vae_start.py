"""A start for the demo's tiny VAE that keeps colour: the linear autoencoder of cell means.

Trained from random weights, the tiny VAE (a diffusers AutoencoderKL) learns luminance long
before colour: in the demo scenes the colour directions carry 40-60x less variance than
luminance, and after 400 steps its reconstructions were grey (chroma 2 of 11; 21 dB) whatever
the width, latent channels, groups, learning rate or loss weighting (issue 14's notes). A
segmenter cannot tell road from vegetation in grey images, so label-map fidelity was capped at
half of the real images' mIoU by the VAE alone.

So it starts as the linear autoencoder a segmenter needs: latent channels 0-2 = each cell's mean
R, G, B (8x8 px for SD's geometry), the decoder repeats them over the cell (23.5 dB, chroma 8 of
11); latent channel 3 and every residual branch start at zero and learn the rest. This is built
inside AutoencoderKL's own layers, so the pipelines load it as any SD VAE:

- each colour c travels as four channels (+c, -c, +K, -K) along the identity paths: conv_in,
  shortcuts, upsampling convs and the posterior convs as identities, downsampling convs as 2x2
  means, residual branches (their second conv) and attention outputs at zero;
- the +- pairs keep every GroupNorm group's mean at exactly 0 and the constant K makes its
  variance ~K^2, so the norm is linear in c (to 1e-3); a bias of 10 before the SiLU makes the
  activation linear too; the read-outs (conv_out) take +c minus -c, calibrated on images.

Groups must hold whole quadruples: 4, 8, ... channels per group in every block (the demo's
(16, 32, 32, 32) channels in 4 groups).
"""

from __future__ import annotations

import torch
from torch import nn

COLOURS = 3
CONSTANT = 20.0  # K: dominates each group's variance (colours are in [-1, 1])
LIFT = 10.0  # SiLU(10 + x) = 10 + x to 5e-4
LOG_VARIANCE = -10.0  # posterior std e^-5: nearly deterministic latents at the start


def _centre(conv: nn.Conv2d, out: int, into: int, value: float) -> None:
    height, width = conv.weight.shape[-2:]
    conv.weight[out, into, height // 2, width // 2] = value


def _identity(conv: nn.Conv2d) -> None:
    conv.weight.zero_()
    if conv.bias is not None:
        conv.bias.zero_()
    for channel in range(min(conv.in_channels, conv.out_channels)):
        _centre(conv, channel, channel, 1.0)


def _write_colours(conv: nn.Conv2d, keep_free_from: int | None = None) -> None:
    """Input channel k -> (+c_k, -c_k, +K, -K) at channels 4k..4k+3. Input channels from
    ``keep_free_from`` keep their random weights into the channels no colour uses."""
    free = conv.weight[COLOURS * 4 :, keep_free_from:].clone() if keep_free_from is not None else None
    conv.weight.zero_()
    conv.bias.zero_()
    for k in range(COLOURS):
        _centre(conv, 4 * k, k, 1.0)
        _centre(conv, 4 * k + 1, k, -1.0)
        conv.bias[4 * k + 2], conv.bias[4 * k + 3] = CONSTANT, -CONSTANT
    if free is not None:
        conv.weight[COLOURS * 4 :, keep_free_from:] = free


def _read_colours(conv: nn.Conv2d, keep_free_into: int | None = None) -> None:
    """Output channel k = +c_k - -c_k; the output channels from ``keep_free_into`` keep their
    random weights from the channels no colour uses."""
    free = conv.weight[keep_free_into:, COLOURS * 4 :].clone() if keep_free_into is not None else None
    conv.weight.zero_()
    conv.bias.zero_()
    for k in range(COLOURS):
        _centre(conv, k, 4 * k, 1.0)
        _centre(conv, k, 4 * k + 1, -1.0)
    if free is not None:
        conv.weight[keep_free_into:, COLOURS * 4 :] = free


def _calibrate(conv: nn.Conv2d, produced: torch.Tensor, wanted: torch.Tensor) -> None:
    """Scale read-out k (its +c_k and -c_k taps) by the least-squares gain from ``produced`` to
    ``wanted`` (N, >= 3, H, W)."""
    gains = (produced * wanted).sum((0, 2, 3)) / produced.square().sum((0, 2, 3))
    for k in range(COLOURS):
        conv.weight[k, 4 * k : 4 * k + 2] *= gains[k]


def _pass_through(blocks) -> None:
    """Residual blocks and attention as identities; downsamplers as 2x2 means; upsamplers
    (nearest x2 then a conv) as nearest upsampling."""
    for block in blocks:
        for resnet in block.resnets:
            nn.init.zeros_(resnet.conv2.weight)
            nn.init.zeros_(resnet.conv2.bias)
            if resnet.conv_shortcut is not None:
                _identity(resnet.conv_shortcut)
        for attention in getattr(block, "attentions", None) or []:
            nn.init.zeros_(attention.to_out[0].weight)
            nn.init.zeros_(attention.to_out[0].bias)
        for downsampler in getattr(block, "downsamplers", None) or []:
            conv = downsampler.conv  # stride 2 after a (0, 1, 0, 1) pad: taps [0:2, 0:2] are one 2x2 cell
            conv.weight.zero_()
            conv.bias.zero_()
            for channel in range(conv.in_channels):
                conv.weight[channel, channel, 0:2, 0:2] = 0.25
        for upsampler in getattr(block, "upsamplers", None) or []:
            _identity(upsampler.conv)


def _lift(norm: nn.GroupNorm) -> None:
    nn.init.ones_(norm.weight)
    nn.init.zeros_(norm.bias)
    norm.bias[: 4 * COLOURS] = LIFT


def _constant_log_variance(conv: nn.Conv2d, latent_channels: int) -> None:
    """The posterior's log-variance rows of the encoder's conv_out: a small constant."""
    conv.weight[latent_channels:] = 0
    conv.bias[latent_channels:] = LOG_VARIANCE


@torch.no_grad()
def cell_mean_start(vae, images: torch.Tensor, tolerance: float = 0.01) -> float:
    """Set ``vae`` (an AutoencoderKL) to the cell-mean autoencoder, calibrated on ``images``
    (N, 3, H, W in [-1, 1]); returns the largest deviation of its reconstruction from the cell
    means repeated over their cells, and refuses a geometry where that exceeds ``tolerance``."""
    encoder, decoder = vae.encoder, vae.decoder
    cell = 2 ** (len(vae.config.block_out_channels) - 1)
    if vae.config.in_channels != COLOURS or vae.config.latent_channels <= COLOURS:
        raise ValueError("the cell-mean start needs 3 image channels and more than 3 latent channels")
    _write_colours(encoder.conv_in)
    _pass_through([*encoder.down_blocks, encoder.mid_block])
    _lift(encoder.conv_norm_out)
    latent = vae.config.latent_channels
    _read_colours(encoder.conv_out, keep_free_into=COLOURS)
    _constant_log_variance(encoder.conv_out, latent)
    for conv in (vae.quant_conv, vae.post_quant_conv):
        if conv is not None:
            _identity(conv)
    _write_colours(decoder.conv_in, keep_free_from=COLOURS)
    _pass_through([decoder.mid_block, *decoder.up_blocks])
    _lift(decoder.conv_norm_out)
    _read_colours(decoder.conv_out, keep_free_into=0)

    means = nn.functional.avg_pool2d(images, cell)
    _calibrate(encoder.conv_out, vae.encode(images).latent_dist.mean[:, :COLOURS], means)
    repeated = nn.functional.interpolate(means, scale_factor=cell, mode="nearest")
    _calibrate(decoder.conv_out, vae.decode(vae.encode(images).latent_dist.mean).sample, repeated)
    deviation = float((vae.decode(vae.encode(images).latent_dist.mean).sample - repeated).abs().max())
    if not deviation <= tolerance:
        groups = vae.config.norm_num_groups
        raise ValueError(f"the VAE's reconstruction deviates from the cell means by {deviation:.3g} > {tolerance}: "
                         f"every GroupNorm group must hold a multiple of 4 channels (norm_num_groups {groups}, "
                         f"block_out_channels {tuple(vae.config.block_out_channels)})")
    return deviation
