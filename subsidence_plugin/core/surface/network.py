"""The patch CNN of seed 000 and its exact dense (fully convolutional) evaluation.

Architecture (seed 000, §2.2 and Table 1): three blocks of [1 x 1 convolution, ReLU, 3 x 3 convolution, batch
normalisation, ReLU, 2 x 2 max pooling]; fully connected layers of 1024, 1024, 512, 512 and 256 ReLU units,
each followed by dropout 0.1; a linear output. The paper does not state the filter counts or the padding:
filters default to 32, 64, 128 and every convolution is unpadded ("valid"), which makes the dense evaluation
exact. The fully connected layers are written as convolutions (the first with the kernel of the last feature
map's size), so the same weights predict one patch or a whole raster.

Dense evaluation ("a trous", Mallat; Long et al. 2015): max pooling with stride 1 and the following
convolutions dilated by 2, 4, 8 compute, in one pass, the network's output for the patch at every position:
output (i, j) is the prediction for the patch whose top-left cell is (i, j). Batch normalisation runs on its
running statistics, folded into the convolution before it, and dropout is off, as for a single patch; with
``mc_dropout`` the dense layers keep dropout on, independently for every output pixel (Monte Carlo dropout, Gal
& Ghahramani 2016). Everything runs on channels-last memory (oneDNN's fast layout on the CPU); the convolution
blocks on strips of rows (``STRIP_PIXELS`` input pixels), the dense layers, 92 % of the work, on
``HEAD_PIXELS`` output pixels at a time, so memory is bounded whatever the raster's size. Work with the default
network (P = 30): 2.7 M multiply-adds per pixel densely against 18.4 M per patch, a ratio of 6.8.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_FILTERS = (32, 64, 128)
DEFAULT_DENSE = (1024, 1024, 512, 512, 256)
STRIP_PIXELS = 2 ** 18  # input pixels per strip of the dense convolutions
HEAD_PIXELS = 16384  # output pixels per pass of the dense layers


def feature_size(patch_size: int, blocks: int = 3) -> int:
    """Side of the last feature map for a patch size (each block: 3 x 3 valid conv, then 2 x 2 pooling)."""
    size = patch_size
    for _ in range(blocks):
        size = (size - 2) // 2
    return size


def minimum_patch_size(blocks: int = 3) -> int:
    """The smallest patch (cells) whose last feature map keeps one cell after ``blocks`` blocks."""
    return 2 ** (blocks + 1) + 2 ** blocks - 2


class PatchCNN(nn.Module):
    """Regression CNN on (B, bands, P, P) patches; ``forward`` returns (B,) predictions."""

    def __init__(self, bands: int, patch_size: int = 30, filters: Sequence[int] = DEFAULT_FILTERS,
                 dense: Sequence[int] = DEFAULT_DENSE, dropout: float = 0.1):
        super().__init__()
        size = feature_size(patch_size, len(filters))
        if size < 1:
            raise ValueError(f"A patch of {patch_size} cells is too small for {len(filters)} blocks; use at least "
                             f"{minimum_patch_size(len(filters))} cells")
        self.bands, self.patch_size, self.filters, self.dense, self.dropout = (
            bands, patch_size, tuple(filters), tuple(dense), dropout)
        self.blocks = nn.ModuleList()
        channels = bands
        for f in filters:
            self.blocks.append(nn.ModuleDict({"pointwise": nn.Conv2d(channels, f, 1), "conv": nn.Conv2d(f, f, 3),
                                              "norm": nn.BatchNorm2d(f)}))
            channels = f
        self.head = nn.ModuleList()
        kernel = size
        for units in dense:
            self.head.append(nn.Conv2d(channels, units, kernel))
            channels, kernel = units, 1
        self.output = nn.Conv2d(channels, 1, 1)

    def architecture(self) -> dict:
        return {"name": "PatchCNN", "bands": self.bands, "patch_size": self.patch_size,
                "filters": list(self.filters), "dense": list(self.dense), "dropout": self.dropout,
                "padding": "valid", "centre": "row/col P//2 of the patch"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        for block in self.blocks:
            x = F.relu(block["pointwise"](x))
            x = F.max_pool2d(F.relu(block["norm"](block["conv"](x))), 2)
        for layer in self.head:
            x = F.dropout(F.relu(layer(x)), self.dropout, training=self.training)
        return self.output(x).reshape(batch)

    @torch.no_grad()
    def dense_forward(self, x: torch.Tensor, mc_dropout: bool = False) -> torch.Tensor:
        """(B, bands, H, W) -> (B, H - P + 1, W - P + 1): the prediction for every patch position.

        (For odd P the last row and column of a patch never reach the output, as in patch mode.)"""
        p = self.patch_size
        rows, cols = x.shape[-2] - p + 1, x.shape[-1] - p + 1
        out = x.new_empty((x.shape[0], rows, cols))
        strip = max(1, STRIP_PIXELS // x.shape[-1] - p + 1)
        for row0 in range(0, rows, strip):
            height = min(strip, rows - row0)
            features = self._dense_features(x[:, :, row0:row0 + height + p - 1])
            out[:, row0:row0 + height] = self._dense_head(features, height, cols, mc_dropout)
        return out

    def _dense_features(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution blocks at every position (dilated), batch norm folded; channels-last memory."""
        x = x.contiguous(memory_format=torch.channels_last)
        dilation = 1
        for block in self.blocks:
            x = F.conv2d(x, block["pointwise"].weight, block["pointwise"].bias).relu_()
            conv, norm = block["conv"], block["norm"]
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            x = F.conv2d(x, conv.weight * scale[:, None, None, None], (conv.bias - norm.running_mean) * scale +
                         norm.bias, dilation=dilation).relu_()
            x = F.max_pool2d(x, 2, stride=1, dilation=dilation)
            dilation *= 2
        return x

    def _dense_head(self, features: torch.Tensor, rows: int, cols: int, mc_dropout: bool) -> torch.Tensor:
        """Dense layers as convolutions (the first dilated by 2^blocks, the rest 1 x 1) on channels-last
        features, ``HEAD_PIXELS`` output pixels at a time."""
        dilation = 2 ** len(self.blocks)
        reach = dilation * (self.head[0].kernel_size[0] - 1)
        dropout = self.training or mc_dropout
        out = features.new_empty((features.shape[0], rows, cols))
        step = max(1, HEAD_PIXELS // (features.shape[0] * cols))
        for row0 in range(0, rows, step):
            row1 = min(rows, row0 + step)
            h = features[:, :, row0:row1 + reach, :cols + reach]
            for layer in self.head:
                h = F.conv2d(h, layer.weight, layer.bias, dilation=dilation if layer.kernel_size[0] > 1 else 1)
                h = F.dropout(h.relu_(), self.dropout, training=dropout)
            out[:, row0:row1] = self.output(h)[:, 0]
        return out
