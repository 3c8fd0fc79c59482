# Two commands on a fresh machine; each needs only python3 (>= 3.10), make and the package registry:
#   make demo   set up .venv from requirements/lock.txt, run the main job, print its log dir,
#               final metrics and a sample grid
#   make test   the same set-up, then the README's test command (python -m pytest -q)
# The set-up is skipped when .venv already matches the lock (a stamp of the lock's hash, pyproject's
# hash and the python version); a broken or half-made .venv is rebuilt. See scripts/setup_env.py.
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= examples/wgangp_mnist.yaml
PYTEST_ARGS ?= -q
DEMO_ARGS ?=
# torch threads for the main job: its nets are small, and on a shared machine two threads per process
# thrash (MNIST job, measured here at load 3-5: one thread ran its 4,200 batches in 5.5 min, two threads
# had made 2,639 batches after 7.3 min)
DEMO_THREADS ?= 1

.PHONY: demo test check setup check-setup lock help
.DEFAULT_GOAL := help

help:
	@echo "make demo    set up $(VENV) (first time only) and run the main job ($(CONFIG))"
	@echo "make test    set up $(VENV) (first time only) and run the test suite"
	@echo "make check   lint (ruff), format check, type check (mypy), docs build with the API reference check"
	@echo "make setup   only the set-up; make check-setup says whether it is needed; make lock rewrites the lock"

setup:
	@$(PYTHON) scripts/setup_env.py --venv "$(VENV)"

check-setup:
	@$(PYTHON) scripts/setup_env.py --venv "$(VENV)" --check

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# seconds, before the suite: ruff lint and format, mypy on the package, the docs site (warnings are
# errors) and the check that every public name is in its API reference
check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(VENV)/bin/python scripts/check_api_reference.py

demo: setup
	OMP_NUM_THREADS=$(DEMO_THREADS) $(VENV)/bin/python scripts/demo.py --config "$(CONFIG)" $(if $(DEMO_ARGS),-- $(DEMO_ARGS))

lock:
	@$(PYTHON) scripts/setup_env.py --venv "$(VENV)" --write-lock
