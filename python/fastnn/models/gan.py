"""DCGAN: a ConvTranspose2d generator and a Conv2d discriminator, trained by fit() through an
overridden train_step (one discriminator step, then one generator step, per batch)."""
from __future__ import annotations

import numpy as np

from ..keras import Model
from ..keras import optimizers as _optimizers
from ..keras._backend import F, device_of_module, eval_mode, nn, no_grad, to_array, to_tensor


def _stages(image_size: int) -> int:
    n = int(np.log2(image_size)) - 2
    if image_size < 8 or 2 ** (n + 2) != image_size:
        raise ValueError(f"DCGAN: image_size must be a power of two >= 8, got {image_size}")
    return n


class Generator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, S, S) in (-1, 1): ConvTranspose2d 1 -> 4 -> 8 ... -> S."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        n = _stages(image_size)
        c = width * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], z.shape[1], 1, 1))


class Discriminator(nn.Module):
    """images (N, channels, S, S) -> real/fake logits (N, 1): strided Conv2d S -> S/2 ... -> 4 -> 1."""

    def __init__(self, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        n = _stages(image_size)
        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).reshape(x.shape[0], 1)


class DCGAN(Model):
    """fit(x) with images x in [0, 1] of shape (N, channels, image_size, image_size); `sample(n)` draws
    images in [0, 1]. compile(d_optimizer=..., g_optimizer=...) (default Adam 2e-4, betas (0.5, 0.999))."""

    def __init__(self, latent_dim: int = 32, channels: int = 1, image_size: int = 8, width: int = 32,
                 seed: int | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, channels, image_size, width)
        self.discriminator = Discriminator(channels, image_size, width)
        self._input_spec = [((latent_dim,), "float32")]  # forward(z) generates
        self._rng = np.random.default_rng(seed)
        self.g_optimizer = None

    def forward(self, z):
        return self.generator(z)

    def compile(self, d_optimizer=None, g_optimizer=None, metrics=None) -> None:
        default = lambda: _optimizers.Adam(2e-4, betas=(0.5, 0.999))  # noqa: E731  (DCGAN paper settings)
        super().compile(optimizer=d_optimizer or default(), loss=None)
        self._g_spec = _optimizers.get(g_optimizer or default())
        self.g_optimizer = None if isinstance(self._g_spec, _optimizers.OptimizerSpec) else self._g_spec

    def _make_optimizers(self) -> None:
        if self.optimizer is None:
            self.optimizer = self._optimizer_spec.build(self.discriminator.parameters())
        if self.g_optimizer is None:
            self.g_optimizer = self._g_spec.build(self.generator.parameters())

    def _ensure_built(self, xs) -> None:  # the input spec is the latent vector, set in __init__
        pass

    def _check_data(self, fn, xs, y) -> int:
        return len(xs[0])

    def _noise(self, n: int, dev: str):
        return to_tensor(self._rng.standard_normal((n, self.latent_dim)).astype(np.float32), dev)

    def train_step(self, x, y=None) -> dict:
        dev = device_of_module(self)
        real = to_tensor(x[0] * 2.0 - 1.0, dev)
        n = real.shape[0]
        ones, zeros = to_tensor(np.ones((n, 1), np.float32), dev), to_tensor(np.zeros((n, 1), np.float32), dev)
        fake = self.generator(self._noise(n, dev))
        d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(real), ones)
                  + F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros))
        self.optimizer.zero_grad()
        d_loss.backward()
        self.optimizer.step()
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        self.g_optimizer.zero_grad()
        g_loss.backward()
        self.g_optimizer.step()
        return {"d_loss": float(d_loss.item()), "g_loss": float(g_loss.item())}

    def test_step(self, x, y=None) -> dict:
        dev = device_of_module(self)
        real = to_tensor(x[0] * 2.0 - 1.0, dev)
        n = real.shape[0]
        d_real = to_array(self.discriminator(real))
        d_fake = to_array(self.discriminator(self.generator(self._noise(n, dev))))
        return {"d_real_accuracy": float((d_real > 0).mean()), "d_fake_accuracy": float((d_fake < 0).mean())}

    def sample(self, n: int) -> np.ndarray:
        """n generated images in [0, 1], (n, channels, S, S)."""
        dev = device_of_module(self)
        with no_grad(), eval_mode(self):
            return (to_array(self.generator(self._noise(n, dev))) + 1.0) / 2.0
