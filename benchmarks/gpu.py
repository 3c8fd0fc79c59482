"""The GPU benchmark in one command: training images per second of DCGAN and ResNet nets at 32x32.

For each net (DCGAN, ResNet), loss (GAN, WGAN-GP, hinge SNGAN), batch (64, 256), precision (fp32,
``bf16-mixed``) and mode (eager, ``compile=True``, ``compile={"mode": "reduce-overhead"}``, which uses
CUDA graphs where torch can capture them), the module trains in a Lightning Trainer, and the plain
PyTorch loop of the same algorithm trains beside it on the same device. Images per second count the
real images the updates consume (one batch per optimizer update), after a warm-up, synchronised.
Penalties differentiate the critic twice, which compiled graphs cannot: they run eagerly (the module
does that by itself), so compiled WGAN-GP compiles the forwards only.

    python benchmarks/gpu.py                      # the whole table on the first GPU (about 5 minutes on an H100)
    python benchmarks/gpu.py --tiny --device cpu  # 2 updates at batch 4: the suite runs this so that it cannot rot
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, quiet

from lightning_gans import GAN, SNGAN, WGANGP
from lightning_gans.losses import LOSSES
from lightning_gans.nets import DCGANCritic, DCGANGenerator, ResNetCritic, ResNetGenerator
from lightning_gans.penalties import gradient_penalty

LATENT = 128
MODELS = {"GAN": (GAN, "non_saturating"), "WGAN-GP": (WGANGP, "wasserstein"), "SNGAN": (SNGAN, "hinge")}
MODES = {"eager": False, "compile": True, "cuda graphs": {"mode": "reduce-overhead"}}


def nets(kind: str, tiny: bool):
    if kind == "dcgan":
        width = 8 if tiny else 64
        return DCGANGenerator(LATENT, 32, 3, width), DCGANCritic(32, 3, width, norm="layer")
    return (ResNetGenerator(LATENT, 32, 3, base_channels=16), ResNetCritic(32, 3, base_channels=16)) if tiny else (
        ResNetGenerator(LATENT, 32, 3), ResNetCritic(32, 3))  # fmt: skip


class _Images(torch.utils.data.IterableDataset):
    """Random images already on the device: the benchmark measures training, not data loading."""

    def __init__(self, batch: int, device: str) -> None:
        self.x = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1

    def __iter__(self):
        while True:
            yield self.x


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def lightning_rate(
    model: str, kind: str, batch: int, precision: str, mode: str, steps: int, device: str, tiny: bool
) -> float:
    import lightning as L

    cls, _ = MODELS[model]
    g, d = nets(kind, tiny)
    module = cls(g, d, LATENT, compile=MODES[mode], noise_seed=0, n_critic=1 if model == "GAN" else 5)
    marks = {}

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, b, i):
            if trainer.global_step == steps // 2:
                _sync(device)
                marks["t0"] = time.perf_counter()

        def on_train_end(self, trainer, pl_module):
            _sync(device)
            marks["t1"] = time.perf_counter()

    loader = torch.utils.data.DataLoader(_Images(batch, device), batch_size=None)
    trainer = L.Trainer(
        accelerator="gpu" if device.startswith("cuda") else "cpu", devices=1, max_steps=steps, precision=precision,
        logger=False, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
        callbacks=[Clock()],
    )  # fmt: skip
    trainer.fit(module, loader)
    return batch * (steps - steps // 2) / (marks["t1"] - marks["t0"])


def plain_rate(model: str, kind: str, batch: int, precision: str, steps: int, device: str, tiny: bool) -> float:
    """The same algorithm in a plain loop: losses and penalty from the package, critic and generator alternating."""
    _, loss_name = MODELS[model]
    loss, n_critic = LOSSES[loss_name], 1 if model == "GAN" else 5
    g, d = (net.to(device) for net in nets(kind, tiny))
    if model == "SNGAN":
        from lightning_gans.layers import apply_spectral_norm

        apply_spectral_norm(d)
    adam = partial(torch.optim.Adam, lr=2e-4, betas=(0.0, 0.9))
    opt_g, opt_d = adam(g.parameters()), adam(d.parameters())
    x = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    t0 = 0.0
    for step in range(steps):
        if step == steps // 2:
            _sync(device)
            t0 = time.perf_counter()
        z = torch.randn(batch, LATENT, device=device)
        with autocast:
            if step % (n_critic + 1) < n_critic:
                with torch.no_grad():
                    fake = g(z)
                out = loss.critic(d(x).flatten(), d(fake).flatten())
                if model == "WGAN-GP":
                    out = out + 10.0 * gradient_penalty(lambda v: d(v).flatten(), x, fake)
                opt = opt_d
            else:
                out, opt = loss.generator(d(g(z)).flatten()), opt_g
        opt.zero_grad(set_to_none=True)
        out.backward()
        opt.step()
    _sync(device)
    return batch * (steps - steps // 2) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="2 updates at batch 4, eager fp32 only, small nets")
    parser.add_argument("--steps", type=int, default=60, help="updates per run (the second half is timed)")
    args = parser.parse_args()
    quiet(1 if args.device == "cpu" else torch.get_num_threads())
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"# device: {name}; {machine()}")
    batches, precisions, modes = (
        ((4,), ("32-true",), ("eager",)) if args.tiny else ((64, 256), ("32-true", "bf16-mixed"), tuple(MODES))
    )
    steps = 2 if args.tiny else args.steps
    print("| net | model | batch | precision | mode | images/s (ours) | images/s (plain loop) | ours / plain |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, model, batch, precision in itertools.product(("dcgan", "resnet"), MODELS, batches, precisions):
        plain = plain_rate(model, kind, batch, precision, steps, args.device, args.tiny)
        for mode in modes:
            try:
                ours = lightning_rate(model, kind, batch, precision, mode, steps, args.device, args.tiny)
            except Exception as err:
                print(
                    f"| {kind} | {model} | {batch} | {precision} | {mode} | failed: {type(err).__name__} | {plain:.0f} | – |"
                )
                continue
            print(
                f"| {kind} | {model} | {batch} | {precision} | {mode} | {ours:.0f} | {plain:.0f} | {ours / plain:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
