#!/usr/bin/env bash
# Release check: build the sdist and wheel, `twine check` them, install the wheel into a fresh venv and run a
# tiny `lightning-gans fit` from outside the checkout (so nothing is imported from the source tree).
#   scripts/check_release.sh              # uses .venv/bin/python (or $PYTHON) for build/twine
# The fresh venv reuses the build interpreter's installed dependencies (no download of torch); the wheel is
# installed into it with --no-deps, and the fit imports every dependency it needs.
# Exit status 0 when every step passed. Called by tests/test_release.py (slow).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "check_release: building the sdist, then the wheel from it, into $work/dist (no isolation: the installed setuptools)"
"$python" -m build --no-isolation --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
wheel=("$work"/dist/*.whl)
sdist=("$work"/dist/*.tar.gz)
[ -f "${wheel[0]}" ] && [ -f "${sdist[0]}" ] || { echo "check_release: no wheel or sdist built" >&2; exit 1; }
"$python" -m twine check --strict "${wheel[0]}" "${sdist[0]}"

# The wheel ships the license, the package data and the console script.
"$python" - "${wheel[0]}" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("LICENSE", "lightning_gans/py.typed", "lightning_gans/assets/digits_classifier.pt", "entry_points.txt"):
    if not any(n.endswith(needed) for n in names):
        sys.exit(f"check_release: {needed} missing from the wheel")
PY

echo "check_release: installing the wheel into a fresh venv"
"$python" -m venv "$work/venv"
# The dependencies come from the build interpreter's site-packages, appended to sys.path by a .pth line (not
# --system-site-packages: from a venv that means the base interpreter's; and a .pth line does not run that
# directory's own .pth files, so an editable install of the checkout there stays invisible).
purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
purelib "$python" >"$(purelib "$work/venv/bin/python")/_release_check_deps.pth"
"$work/venv/bin/python" -m pip install --quiet --no-deps --no-index "${wheel[0]}"

echo "check_release: a tiny fit from outside the checkout"
mkdir "$work/run"
cat >"$work/run/config.yaml" <<'YAML'
seed_everything: 0
trainer: {accelerator: cpu, devices: 1, max_steps: 12, enable_progress_bar: false, enable_model_summary: false}
model:
  class_path: lightning_gans.WGANGP
  init_args:
    latent_dim: 2
    generator: {class_path: lightning_gans.nets.MLPGenerator, init_args: {hidden_dim: 8}}
    critic: {class_path: lightning_gans.nets.MLPCritic, init_args: {hidden_dim: 8}}
data: {class_path: lightning_gans.ToyDataModule, init_args: {batch_size: 16, batches_per_epoch: 5}}
YAML
(
  cd "$work/run"
  export PYTHONPATH="" PYTHONNOUSERSITE=1 OMP_NUM_THREADS=1
  location="$("$work/venv/bin/python" -c 'import lightning_gans, os; print(os.path.dirname(lightning_gans.__file__))')"
  case "$location" in "$root"*) echo "check_release: imported the checkout ($location), not the wheel" >&2; exit 1 ;; esac
  "$work/venv/bin/lightning-gans" fit --config config.yaml --trainer.default_root_dir "$work/run/out"
  [ -n "$(find "$work/run/out" -path '*/checkpoints/last.ckpt')" ] || { echo "check_release: the fit wrote no last.ckpt" >&2; exit 1; }
  echo "check_release: installed $("$work/venv/bin/python" -c 'import lightning_gans; print(lightning_gans.__version__)') from ${wheel[0]##*/} at $location"
)
echo "check_release: OK"
