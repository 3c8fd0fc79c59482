"""LitData streaming: `lightning-gans convert-folder` writes shards, StreamingImageDataModule reads them.

Properties: the shards give the folder's images pixel for pixel (same reader and transforms as
ImageDataModule); two DDP ranks (gloo) read disjoint halves and resume exactly; a mid-epoch resume through the Trainer with
``ckpt_path`` sees the same batches and ends with the same weights as a straight run; the console script
converts (exit 0), refuses bad input before writing (exit 2) and fits from a config.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import WGANGP
from lightning_gans._checks import InputError
from lightning_gans.data import ImageDataModule, StreamingImageDataModule, optimize_folder
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from tests.conftest import trainer_kwargs

pytest.importorskip("litdata")
pytestmark = pytest.mark.usefixtures("one_thread")

SCRIPT = str(Path(sys.executable).with_name("lightning-gans"))
ROOT = Path(__file__).resolve().parents[2]

FAULT_TESTS = (
    "test_convert_folder_refuses_bad_input_before_writing",
)  # for scripts/count_fault_tests.py (EXTRA_MODULES)


def _env() -> dict:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=300)


def _folder(root: Path, per_class: int = 20, classes=("cats", "dogs"), size=(10, 12)) -> Path:
    """A folder of random RGB PNGs, one sub-folder per class (sizes differ from the output: resize and crop act)."""
    rng = np.random.default_rng(0)
    from PIL import Image

    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / c / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, Path]:
    """40 PNGs of 2 classes and their shards in 7 chunks of about 3 kB (so ranks and workers get several)."""
    tmp = tmp_path_factory.mktemp("stream")
    src = _folder(tmp / "images")
    optimize_folder(str(src), str(tmp / "shards"), chunk_bytes=3000)
    return src, tmp / "shards"


def _rows(batches) -> list[tuple]:
    """Each (image, label) of the batches as one hashable row of exact float values."""
    return [(*x.flatten().tolist(), int(y)) for images, labels in batches for x, y in zip(images, labels)]


def test_convert_folder_command_writes_shards(tmp_path):
    """`lightning-gans convert-folder SRC DST` exits 0, writes LitData's index.json, chunks and our metadata."""
    src = _folder(tmp_path / "images", per_class=3)
    proc = _run(tmp_path, "convert-folder", str(src), str(tmp_path / "out"), "--chunk_bytes", "2000")
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 6 images of 2 classes" in proc.stdout
    written = sorted(os.listdir(tmp_path / "out"))
    assert "index.json" in written and "lightning_gans.json" in written
    assert sum(name.endswith(".bin") for name in written) >= 2  # 2 kB chunks: more than one
    dm = StreamingImageDataModule(str(tmp_path / "out"), image_size=8, batch_size=2, conditional=True)
    assert dm.num_classes == 2


def test_convert_folder_refuses_bad_input_before_writing(tmp_path):
    """Missing SRC, a folder without images, a DST holding files (without --overwrite) and a DST inside SRC exit 2
    naming the argument, and nothing is written; --overwrite then converts. A truncated image (found while
    converting) is an InputError naming the file, and the partial output is removed."""
    src = _folder(tmp_path / "images", per_class=2)
    from lightning_gans.commands import run_command  # what the console script returns as its exit status

    assert run_command(["convert-folder", str(tmp_path / "nope"), str(tmp_path / "a")]) == 2
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    assert run_command(["convert-folder", str(tmp_path / "empty"), str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()
    assert run_command(["convert-folder", str(src), str(src / "shards")]) == 2
    assert not (src / "shards").exists()
    held = tmp_path / "held"
    held.mkdir()
    (held / "old.txt").write_text("keep me")
    refused = _run(tmp_path, "convert-folder", str(src), str(held))  # as users run it: a subprocess
    assert refused.returncode == 2 and "`dst`" in refused.stderr and "--overwrite" in refused.stderr
    assert sorted(os.listdir(held)) == ["old.txt"]
    assert run_command(["convert-folder", str(src), str(held), "--overwrite"]) == 0
    assert (held / "index.json").is_file()
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    data = (src / "cats" / "000.png").read_bytes()
    (truncated / "a.png").write_bytes(data)
    (truncated / "b.png").write_bytes(data[:100])
    with pytest.raises(
        InputError, match=r"`src`.*'.*b\.png' \(truncated or not an image\).*partial output was removed"
    ):
        optimize_folder(str(truncated), str(tmp_path / "c"))
    assert not (tmp_path / "c").exists()


def test_streaming_yields_the_folders_images_exactly(shards):
    """Over one epoch without dropping, the shards give exactly the (image, label) pairs ImageDataModule reads from
    the folder (same reader, resize, crop, scaling to [-1, 1]); only the order differs."""
    src, out = shards
    for channels in (3, 1):
        reference = ImageDataModule(str(src), image_size=8, channels=channels, batch_size=8)
        reference.setup("fit")
        expected = sorted(_rows([(x.unsqueeze(0), torch.tensor([y])) for x, y in reference._data]))
        dm = StreamingImageDataModule(str(out), image_size=8, channels=channels, batch_size=8, seed=1)
        dm.setup("fit")
        batches = list(dm.train_dataloader())
        assert len(batches) == 5 and batches[0][0].shape == (8, channels, 8, 8)  # 40 images, 5 full batches
        assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
        assert sorted(_rows(batches)) == expected
        assert {int(y) for _, labels in batches for y in labels} == {0, 1}


def test_shuffle_follows_the_seed_and_the_epoch(shards):
    """Same seed, same order; epoch 2 is another order of the same images; another seed another order."""
    _, out = shards

    def epochs(seed: int, n: int = 2) -> list[list[tuple]]:
        dm = StreamingImageDataModule(str(out), image_size=8, batch_size=8, seed=seed)
        dm.setup("fit")
        loader = dm.train_dataloader()
        return [_rows(list(loader)) for _ in range(n)]

    first, again, other = epochs(1), epochs(1), epochs(2)
    assert first == again
    assert first[0] != first[1] and sorted(first[0]) == sorted(first[1])
    assert first[0] != other[0]


_LAUNCH_VARS = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "PL_GLOBAL_SEED")


def _frozen_parameters(state: dict) -> dict:
    """Everything but batch-norm running statistics (the one per-rank state: see the DDP test below)."""
    return {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def test_ddp_ranks_read_their_own_shards_and_resume_mid_epoch_exactly(shards, tmp_path):
    """`Trainer(strategy="ddp", devices=2)`, gloo, 2 loader workers a rank (tests/data/scripts/stream_ddp.py): in
    epoch 1 each rank reads 20 of the 40 images as 5 batches, disjoint, together the whole folder; 3 batches +
    checkpoint + resume to 8 gives each rank the batches of its straight run, in order, across the epoch boundary,
    and the same weights. Batch-norm running statistics are the exception: they are per rank, and the checkpoint
    holds the ranks' mean (lightning_gans.distributed), which both ranks load on resume."""
    src, out = shards
    env = {k: v for k, v in _env().items() if k not in _LAUNCH_VARS}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "scripts" / "stream_ddp.py"), str(tmp_path), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # rank 1 is its child: kill the group on a hang
    )
    try:
        log, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, log.decode(errors="replace")[-4000:]
    run = {(p, r): torch.load(tmp_path / f"{p}_rank{r}.pt") for p in ("straight", "first", "resumed") for r in (0, 1)}
    assert run["straight", 0]["world_size"] == 2
    epoch_one = [{tuple(x.flatten().tolist()) for b in run["straight", r]["seen"][:5] for x in b} for r in (0, 1)]
    assert [run["straight", r]["epochs"] for r in (0, 1)] == [[0] * 5 + [1] * 3] * 2  # 5 batches a rank an epoch
    assert [len(rows) for rows in epoch_one] == [20, 20] and not epoch_one[0] & epoch_one[1]
    reference = ImageDataModule(str(src), image_size=8, batch_size=8)
    reference.setup("fit")
    assert epoch_one[0] | epoch_one[1] == {tuple(x.flatten().tolist()) for x, _ in reference._data}
    for rank in (0, 1):
        straight, first, resumed = (run[p, rank] for p in ("straight", "first", "resumed"))
        assert len(first["seen"]) == 3 and len(resumed["seen"]) == 5
        for k, (a, b) in enumerate(zip(straight["seen"], first["seen"] + resumed["seen"])):
            assert torch.equal(a, b), f"rank {rank}: batch {k} differs after the resume"
        expected, got = _frozen_parameters(straight["state_dict"]), _frozen_parameters(resumed["state_dict"])
        assert expected.keys() == got.keys()
        for key, value in expected.items():
            assert torch.equal(value, got[key]), (rank, key)


class _RecordBatches(Callback):
    """Keeps each training batch's images (the data position is what a resume must restore)."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(batch[0].clone())


def _fit(
    out: Path, max_steps: int, callbacks=(), ckpt_path=None, num_workers: int = 0, limit: int | None = None
) -> tuple[WGANGP, list]:
    torch.manual_seed(0)
    module = WGANGP(
        DCGANGenerator(latent_dim=4, image_size=8, channels=3, base_channels=4),
        DCGANCritic(image_size=8, channels=3, base_channels=4, norm="layer"),
        latent_dim=4,
        n_critic=2,
        noise_seed=5,
    )
    record = _RecordBatches()
    trainer = Trainer(
        **trainer_kwargs(
            max_steps=max_steps,
            callbacks=[record, *callbacks],
            enable_checkpointing=bool(callbacks),
            limit_train_batches=limit,
        )
    )
    dm = StreamingImageDataModule(str(out), image_size=8, batch_size=4, seed=3, num_workers=num_workers)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    return module, record.seen


@pytest.mark.parametrize("num_workers", [0, 2])
def test_mid_epoch_resume_through_the_trainer_is_exact(shards, tmp_path, num_workers):
    """7 batches + checkpoint + resume to 14 == 14 straight: the same batches in the same order and bit-identical
    weights, with 0 or 2 loader workers. An epoch is 10 batches, so the resumed run also crosses into epoch 2, which
    must start afresh (LitData's loader alone went on past the restored epoch's end: `_loader_class`)."""
    _, out = shards
    straight, seen_straight = _fit(out, 14, num_workers=num_workers)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=7, save_top_k=-1, filename="{step}")
    _, seen_first = _fit(out, 7, callbacks=[ckpt], num_workers=num_workers)
    resumed, seen_resumed = _fit(out, 14, ckpt_path=str(tmp_path / "step=7.ckpt"), num_workers=num_workers)
    assert len(seen_straight) == 14 and len(seen_first) == 7 and len(seen_resumed) == 7
    for k, (a, b) in enumerate(zip(seen_straight, seen_first + seen_resumed)):
        assert torch.equal(a, b), f"batch {k} differs after the resume"
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert resumed.generator_steps == straight.generator_steps and resumed.critic_steps == straight.critic_steps


def test_resume_is_exact_with_epochs_shortened_by_limit_train_batches(shards, tmp_path):
    """`limit_train_batches=6` ends each epoch 4 batches before the loader's end: 4 + checkpoint + resume to 15 ==
    15 straight (epochs of 6), so a resumed epoch that Lightning ends early still starts the next one afresh."""
    _, out = shards
    straight, seen_straight = _fit(out, 15, limit=6)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=4, save_top_k=-1, filename="{step}")
    _fit(out, 4, callbacks=[ckpt], limit=6)
    resumed, seen_resumed = _fit(out, 15, ckpt_path=str(tmp_path / "step=4.ckpt"), limit=6)
    assert len(seen_resumed) == 11
    for k, (a, b) in enumerate(zip(seen_straight[4:], seen_resumed), start=4):
        assert torch.equal(a, b), f"batch {k} differs after the resume"
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_resume_without_the_loader_state_would_repeat_data(shards, tmp_path):
    """Control for the test above: a loader whose saved position is dropped starts the epoch again, so the
    batches after the resume differ from the straight run's (the exact test can fail)."""
    _, out = shards
    _, seen_straight = _fit(out, 10)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=5, save_top_k=-1, filename="{step}")
    _fit(out, 5, callbacks=[ckpt])
    saved = torch.load(tmp_path / "step=5.ckpt", weights_only=False)
    loop = saved["loops"]["fit_loop"]
    assert loop["state_dict"]["combined_loader"][0]["num_samples_yielded"] > 0  # the position is saved ...
    loop["state_dict"].pop("combined_loader")
    torch.save(saved, tmp_path / "dropped.ckpt")
    _, seen_resumed = _fit(out, 10, ckpt_path=str(tmp_path / "dropped.ckpt"))
    assert not all(torch.equal(a, b) for a, b in zip(seen_straight[5:], seen_resumed))  # ... and it matters


def test_missing_src_is_named(tmp_path, capsys):
    """The message of a missing SRC names `src` and says it does not exist."""
    from lightning_gans.commands import run_command

    assert run_command(["convert-folder", str(tmp_path / "nope"), str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "`src`" in err and "does not exist" in err


def test_bad_arguments_name_themselves(tmp_path, shards):
    """Out-of-range values at construction; a folder without shards and a batch larger than the data in setup."""
    _, out = shards
    with pytest.raises(InputError, match="`channels`"):
        StreamingImageDataModule(str(out), channels=2)
    with pytest.raises(InputError, match="`batch_size`"):
        StreamingImageDataModule(str(out), batch_size=0)
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"`input_dir`.*no LitData shards \(no index.json\)"):
        StreamingImageDataModule(str(tmp_path / "plain")).setup("fit")
    with pytest.raises(InputError, match=r"`input_dir`.*is not a folder"):
        StreamingImageDataModule(str(tmp_path / "missing")).setup("fit")
    dm = StreamingImageDataModule(str(out), batch_size=41)
    dm.setup("fit")
    with pytest.raises(InputError, match="`batch_size`=41 is larger"):
        dm.train_dataloader()
    with pytest.raises(InputError, match=r"remote: with `conditional`=True pass `num_classes`"):
        _ = StreamingImageDataModule("s3://bucket/shards", conditional=True).num_classes
    assert StreamingImageDataModule("s3://bucket/shards", conditional=True, num_classes=7).num_classes == 7


_CONFIG = """
seed_everything: 0
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 6
  enable_model_summary: false
  enable_progress_bar: false
  logger: false
  default_root_dir: {ckpt_dir}
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {{dirpath: {ckpt_dir}, save_last: true}}
model:
  class_path: lightning_gans.WGANGP
  init_args:
    latent_dim: 4
    n_critic: 2
    generator:
      class_path: lightning_gans.nets.DCGANGenerator
      init_args: {{latent_dim: 4, image_size: 8, channels: 3, base_channels: 4, num_classes: 2}}
    critic:
      class_path: lightning_gans.nets.DCGANCritic
      init_args: {{image_size: 8, channels: 3, base_channels: 4, norm: layer, num_classes: 2}}
data:
  class_path: lightning_gans.data.StreamingImageDataModule
  init_args: {{input_dir: {out}, image_size: 8, batch_size: 4, conditional: true}}
"""


def test_fit_through_the_console_script_from_shards(shards, tmp_path):
    """`lightning-gans fit --config` with StreamingImageDataModule exits 0 after 6 steps; its checkpoint holds the
    loader's position (6 batches of 4 = 24 images); `conditional: true` gives the module the shards' 2 classes."""
    _, out = shards
    config = tmp_path / "config.yaml"
    config.write_text(_CONFIG.format(ckpt_dir=tmp_path / "run", out=out))
    proc = _run(tmp_path, "fit", "--config", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = torch.load(tmp_path / "run" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 6
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]["num_samples_yielded"] == 24
    assert saved["hyper_parameters"]["num_classes"] == 2
