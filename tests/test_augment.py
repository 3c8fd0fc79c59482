"""Pure augmentation ops (lightning_gans.augment): exact geometry, analytic colour effects, gradients, RNG use."""

import pytest
import torch

from lightning_gans import augment as A


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: x shifted by (dy, dx) whole pixels with zero fill, written with slicing."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def test_translation_is_a_zero_filled_integer_shift_within_the_ratio():
    """Every sample equals the slicing reference for exactly one shift with |dy|, |dx| <= 1 (1/8 of 8 px)."""
    x = torch.randn(64, 2, 8, 8)
    y = A.translation(x, _rng())
    seen = set()
    for a, b in zip(x, y):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(_shifted(a, dy, dx), b)]
        assert len(matches) == 1 and max(abs(matches[0][0]), abs(matches[0][1])) <= 1
        seen.add(matches[0])
    assert len(seen) == 9  # all shifts in {-1, 0, 1}^2 occur among 64 samples


def test_cutout_zeroes_one_clipped_square_of_half_the_side():
    """On an all-ones batch, each mask is one axis-aligned rectangle of side <= 4 (half of 8), 4x4 when inside."""
    y = A.cutout(torch.ones(200, 1, 8, 8), _rng())
    full = 0
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert rows.numel() > 0 and set(img.unique().tolist()) <= {0.0, 1.0}
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert h <= 4 and w <= 4 and rows.numel() == h * w  # a filled rectangle
        full += (h, w) == (4, 4)
    assert full > 50  # unclipped squares are common


def test_color_ops_analytic():
    """brightness adds one offset in [-0.5, 0.5] per sample; contrast keeps each sample's mean;
    saturation keeps the channel mean at every pixel and is a no-op on one channel."""
    x = torch.randn(32, 3, 8, 8)
    d = A.brightness(x, _rng()) - x
    offsets = d.flatten(1)
    assert torch.allclose(offsets, offsets[:, :1].expand_as(offsets)) and offsets.abs().max() <= 0.5
    assert torch.allclose(A.contrast(x, _rng()).mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5)
    assert torch.allclose(A.saturation(x, _rng()).mean(dim=1), x.mean(dim=1), atol=1e-5)
    gray = torch.randn(4, 1, 8, 8)
    assert torch.allclose(A.saturation(gray, _rng()), gray)


def test_gradients_flow_through_translation_and_cutout():
    """d(sum out)/dx is 1 on the pixels that survive and 0 on those shifted out or cut: differentiable, not detached."""
    x = torch.randn(16, 1, 8, 8, requires_grad=True)
    y = A.diff_augment(x, "translation,cutout", _rng(3))
    (grad,) = torch.autograd.grad(y.sum(), x)
    kept = A.diff_augment(torch.ones(16, 1, 8, 8), "translation,cutout", _rng(3))
    # each surviving output pixel reads one distinct input pixel, so the counts match
    assert grad.sum() == kept.sum() and set(grad.unique().tolist()) <= {0.0, 1.0}
    assert 0 < grad.sum() < x.numel()


def test_same_rng_same_output_and_rng_is_the_only_randomness():
    """Two calls with equally seeded RNGs agree bit for bit; the global RNG is neither used nor advanced."""
    x = torch.randn(8, 3, 16, 16)
    state = torch.get_rng_state()
    a = A.diff_augment(x, rng=_rng(5))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, A.diff_augment(x, rng=_rng(5)))
    assert not torch.equal(a, A.diff_augment(x, rng=_rng(6)))
    b = A.ada_augment(x, 0.7, _rng(5))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(b, A.ada_augment(x, 0.7, _rng(5)))


def test_policy_parsing():
    """Known names pass in order; unknown names and empty policies raise naming `policy`."""
    assert A.parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(ValueError, match="`policy`"):
        A.parse_policy("color,rotate")
    with pytest.raises(ValueError, match="`policy`"):
        A.parse_policy("")


def test_ada_p0_is_identity_and_p1_blit_is_exact():
    """p=0 returns x itself; at p=1 flips and quarter turns land exactly on one of the 8 dihedral images."""
    x = torch.randn(64, 3, 8, 8)
    assert A.ada_augment(x, 0.0, _rng()) is x
    y = A.ada_augment(x, 1.0, _rng(), ops=("xflip", "rotate90"))
    kinds = set()
    for a, b in zip(x, y):
        images = [a.rot90(k, (1, 2)) for k in range(4)] + [a.flip(-1).rot90(k, (1, 2)) for k in range(4)]
        hits = [i for i, im in enumerate(images) if torch.allclose(im, b, atol=1e-5)]
        assert len(hits) == 1
        kinds.add(hits[0])
    assert len(kinds) == 8


def test_ada_integer_translation_moves_whole_pixels():
    """xint at p=1 keeps the pixel values of the image inside the shift (exact, no interpolation blur)."""
    x = torch.randn(32, 1, 16, 16)
    y = A.ada_augment(x, 1.0, _rng(1), ops=("xint",))
    for a, b in zip(x[:, 0], y[:, 0]):
        hits = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.allclose(
                _shifted(a, dy, dx)[max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)],
                b[max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)],
                atol=1e-5,
            )
        ]
        assert hits


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_ada_applies_each_op_with_probability_p(p):
    """The fraction of samples that brightness changes is p (4,000 samples: binomial std < 0.008)."""
    x = torch.zeros(4000, 1, 4, 4)
    changed = (A.ada_augment(x, p, _rng(), ops=("brightness",)) != 0).flatten(1).any(1).float().mean()
    assert float(changed) == pytest.approx(p, abs=0.03)


def test_ada_is_differentiable_and_finite():
    """The full pipeline at p=1 passes gradients to every input sample."""
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    y = A.ada_augment(x, 1.0, _rng())
    assert y.isfinite().all()
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    assert (grad.flatten(1).abs().sum(1) > 0).all()


def test_ada_bad_arguments():
    """p outside [0, 1] and unknown ops raise naming the argument; non-image input names `x`."""
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="`p`"):
        A.ada_augment(x, 1.5)
    with pytest.raises(ValueError, match="`ops`"):
        A.ada_augment(x, 0.5, ops=("hue",))
    with pytest.raises(ValueError, match="`x`"):
        A.translation(torch.zeros(2, 8))
