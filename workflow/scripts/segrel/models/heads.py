"""Decode heads that compute what mmseg's compute, faster: registered in mmseg's model registry
by :func:`segrel.models.segmentors.import_openmmlab`, chosen by a model's config
(``model.decode_head.type``), their weights mmseg's own (a checkpoint loads strictly into either).
"""

from __future__ import annotations

import torch.nn.functional as F
from mmseg.models.decode_heads import SegformerHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS


@MODELS.register_module(force=True)  # (a second import of this file, e.g. by doctest, re-registers it)
class SegformerHeadLowResFusion(SegformerHead):
    """mmseg's SegformerHead with its fusion convolution applied to each level before the
    upsampling instead of to the upsampled concatenation. Its 1x1 convolution and the
    (per-channel, linear) interpolation commute, so the output is the same up to float rounding
    (1e-6 on SegFormer-B0 at 128x256), but the fusion's 4C -> C channels run at 1/4 resolution
    for the first level only and at 1/8 to 1/32 for the others: a training step of SegFormer-B0
    on 4 crops of 128x256 on one CPU thread 0.37 -> 0.18 s (benchmarks/segformer_head.py).

    >>> from mmseg.models.decode_heads import SegformerHead
    >>> import torch
    >>> kwargs = dict(in_channels=[4, 8], in_index=[0, 1], channels=6, num_classes=3)
    >>> stock, fused = SegformerHead(**kwargs).eval(), SegformerHeadLowResFusion(**kwargs).eval()
    >>> _ = fused.load_state_dict(stock.state_dict())
    >>> inputs = [torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4)]
    >>> torch.allclose(stock(inputs), fused(inputs), atol=1e-5)
    True
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.fusion_conv.order != ("conv", "norm", "act"):
            raise ValueError(f"SegformerHeadLowResFusion: a fusion ConvModule of order {self.fusion_conv.order}; "
                             "use mmseg's SegformerHead")

    def forward(self, inputs):
        inputs = self._transform_inputs(inputs)
        size, fusion = inputs[0].shape[2:], self.fusion_conv
        weights = fusion.conv.weight.split(self.channels, dim=1)  # one (C, C, 1, 1) block per level
        fused = None
        for level, (x, conv, weight) in enumerate(zip(inputs, self.convs, weights)):
            part = F.conv2d(conv(x), weight)
            if level:  # the first level is at the output's size already
                part = resize(part, size=size, mode=self.interpolate_mode, align_corners=self.align_corners)
            fused = part if fused is None else fused + part
        if fusion.conv.bias is not None:
            fused = fused + fusion.conv.bias.view(1, -1, 1, 1)
        if fusion.with_norm:
            fused = fusion.norm(fused)
        if fusion.with_activation:
            fused = fusion.activate(fused)
        return self.cls_seg(fused)
