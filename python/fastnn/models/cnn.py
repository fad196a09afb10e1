"""Convolutional classifiers on NCHW images, returning logits: a VGG-style ConvNet, LeNet and a small ResNet."""
from __future__ import annotations

from typing import Sequence

from ..keras import Model
from ..keras._backend import F, nn


class ConvNet(Model):
    """VGG-style: for each width in `channels` a stage conv3x3 -> [BN] -> ReLU -> conv3x3 -> [BN] -> ReLU ->
    maxpool2 (same padding, so each stage halves the resolution), then dropout -> FC `hidden` -> ReLU ->
    dropout -> FC classes. Input (N, in_channels, image_size, image_size), image_size divisible by
    2 ** len(channels). The `fastnn train cnn` model (channels (16, 32) on digits and MNIST)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 channels: Sequence[int] = (32, 64), hidden: int = 128, dropout: float = 0.25,
                 batch_norm: bool = True) -> None:
        super().__init__()
        if image_size % 2 ** len(channels):
            raise ValueError(f"ConvNet: image_size ({image_size}) must be divisible by 2**len(channels) "
                             f"({2 ** len(channels)})")
        layers, cin = [], in_channels
        for c in channels:
            for _ in range(2):
                layers.append(nn.Conv2d(cin, c, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c))
                layers.append(nn.ReLU())
                cin = c
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(channels)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin * side * side, hidden, activation="relu")
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = self.fc(self.drop(x.reshape(x.shape[0], -1)))
        return self.head(self.drop(x))


class LeNet(Model):
    """LeNet-5 layout sized to the image: conv5 (pad 2) -> ReLU -> maxpool2 -> conv5 (pad 2) -> ReLU ->
    maxpool2 -> FC 120 -> FC 84 -> FC classes. Input (N, in_channels, image_size, image_size),
    image_size divisible by 4 (8 for the sklearn digits, 28 for MNIST)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 channels: Sequence[int] = (6, 16)) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"LeNet: image_size must be divisible by 4, got {image_size}")
        c1, c2 = channels
        self.conv1 = nn.Conv2d(in_channels, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
        self.fc1 = nn.Linear(c2 * (image_size // 4) ** 2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.reshape(x.shape[0], -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    """conv3-BN-ReLU-conv3-BN plus the input (1x1 conv + BN when the shape changes), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(Model):
    """A small ResNet: conv3 stem, stages of BasicBlocks (the first block of each later stage halves
    the resolution), global average pooling, linear head. Input (N, in_channels, H, W)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (16, 32),
                 blocks_per_stage: int = 1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks_per_stage):
                blocks.append(BasicBlock(cin, w, stride=2 if (i > 0 and j == 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.stem(x))))
        return self.head(x.mean((2, 3)))
