"""The backbone of the tests that check how tfl trains, saves and serves (stages,
resume, export...), not how well features transfer.

MobileNetV3Small's minimalistic variant has MobileNetV3Small's stages (stem,
stride8, stride16, stride32), feature size (576) and BatchNorm layers, with 103
layers instead of 157 (no squeeze-excite, no hard-swish): its training step
traces in about 60% of the time (one all-layers epoch at 32 px: 3.2 s against
5.5 s; docs/performance.md). With random weights its pooled features are small
(std about 1e-8 at 32 px; MobileNetV3Small's about 1e-11) but not zero.

Transfer itself is tested on the real ImageNet weights (tests marked `real_weights`).
"""

SMALL_BACKBONE = "mobilenet_v3_small_minimalistic"
