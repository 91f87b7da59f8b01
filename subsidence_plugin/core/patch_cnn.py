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
running statistics and dropout is off, as for a single patch; with ``mc_dropout`` the dense layers keep
dropout on, independently for every output pixel (Monte Carlo dropout, Gal & Ghahramani 2016).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_FILTERS = (32, 64, 128)
DEFAULT_DENSE = (1024, 1024, 512, 512, 256)


def feature_size(patch_size: int, blocks: int = 3) -> int:
    """Side of the last feature map for a patch size (each block: 3 x 3 valid conv, then 2 x 2 pooling)."""
    size = patch_size
    for _ in range(blocks):
        size = (size - 2) // 2
    return size


class PatchCNN(nn.Module):
    """Regression CNN on (B, bands, P, P) patches; ``forward`` returns (B,) predictions."""

    def __init__(self, bands: int, patch_size: int = 30, filters: Sequence[int] = DEFAULT_FILTERS,
                 dense: Sequence[int] = DEFAULT_DENSE, dropout: float = 0.1):
        super().__init__()
        size = feature_size(patch_size, len(filters))
        if size < 1:
            raise ValueError(f"A patch of {patch_size} cells is too small for {len(filters)} blocks; use at least "
                             f"{2 ** (len(filters) + 1) + 2 ** len(filters) - 2} cells")
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
        return self._run(x, dilated=False, mc_dropout=False).reshape(x.shape[0])

    def dense_forward(self, x: torch.Tensor, mc_dropout: bool = False) -> torch.Tensor:
        """(B, bands, H, W) -> (B, H - P + 1, W - P + 1): the prediction for every patch position.

        (For odd P the last row and column of a patch never reach the output, as in patch mode.)"""
        rows, cols = x.shape[-2] - self.patch_size + 1, x.shape[-1] - self.patch_size + 1
        return self._run(x, dilated=True, mc_dropout=mc_dropout)[:, 0, :rows, :cols]

    def _run(self, x: torch.Tensor, dilated: bool, mc_dropout: bool) -> torch.Tensor:
        dilation = 1
        for block in self.blocks:
            x = F.relu(block["pointwise"](x))
            conv = block["conv"]
            x = F.conv2d(x, conv.weight, conv.bias, dilation=dilation)
            x = F.relu(block["norm"](x))
            if dilated:
                x = F.max_pool2d(x, 2, stride=1, dilation=dilation)
                dilation *= 2
            else:
                x = F.max_pool2d(x, 2)
        for layer in self.head:
            x = F.relu(F.conv2d(x, layer.weight, layer.bias, dilation=dilation if layer.kernel_size[0] > 1 else 1))
            x = F.dropout(x, self.dropout, training=self.training or mc_dropout)
        return self.output(x)
