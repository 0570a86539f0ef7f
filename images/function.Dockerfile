# One image per function folder, built from the repository root:
#   docker build -f images/function.Dockerfile --build-arg FUNCTION=auth -t rlarena/auth .
# FUNCTION is a folder under functions/ (auth, agents, submissions, matchmaker, ratings, ws-relay).
# The image holds the shared library and only that folder's requirements, resolved against
# constraints.txt. Every Knative Service of the folder runs it and picks its target with
# FUNCTION_TARGET (knative/base/serving/*.yaml); ws-relay overrides the command with
# `python -m rlarena.relay`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG FUNCTION
RUN test -n "${FUNCTION}" || { echo "pass --build-arg FUNCTION=<a folder under functions/>" >&2; exit 1; }
# Compilers for any dependency without a wheel for this platform; they stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY constraints.txt constraints.txt
COPY shared/pyproject.toml shared/pyproject.toml
COPY shared/src shared/src
COPY functions/${FUNCTION}/requirements.txt functions/${FUNCTION}/requirements.txt
# Wheels first (the library and every pinned dependency), then a pip-less virtual environment
# installed from those wheels only: the runtime stage copies the environment and nothing else.
RUN pip wheel --wheel-dir /wheels -c constraints.txt -r functions/${FUNCTION}/requirements.txt \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/*.whl

FROM ${PYTHON_IMAGE} AS runtime
ARG FUNCTION
RUN groupadd --system --gid 10000 rlarena \
    && useradd --system --uid 10000 --gid rlarena --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin rlarena
COPY --from=builder /opt/venv /opt/venv
COPY functions/${FUNCTION}/main.py /app/main.py
WORKDIR /app
# Bytecode was compiled at install time; nothing is written at run time (read-only friendly).
ENV PATH=/opt/venv/bin:${PATH} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FUNCTION_SOURCE=/app/main.py PORT=8080
USER 10000:10000
EXPOSE 8080
# functions-framework reads FUNCTION_TARGET, FUNCTION_SOURCE and PORT from the environment.
CMD ["functions-framework"]
