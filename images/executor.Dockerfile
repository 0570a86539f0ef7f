# The match executor (`rlarena executor`, gRPC over h2c) and, from the same image, the match Pod's
# runner (`rlarena match-pod`, MATCH_RUNNER_IMAGE): the library with the games, gRPC, S3 and
# Kubernetes extras. Built from the repository root:
#   docker build -f images/executor.Dockerfile -t rlarena/executor .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY constraints.txt constraints.txt
COPY shared/pyproject.toml shared/pyproject.toml
COPY shared/src shared/src
RUN pip wheel --wheel-dir /wheels -c constraints.txt "./shared[games,grpc,s3,k8s]" \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/*.whl

FROM ${PYTHON_IMAGE} AS runtime
# uid 10000: the match Pod runs the runner container as this user too (executor/kubernetes/jobs.py).
RUN groupadd --system --gid 10000 rlarena \
    && useradd --system --uid 10000 --gid rlarena --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin rlarena
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:${PATH} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10000:10000
EXPOSE 8080
# The match Job overrides the command with `rlarena match-pod --spec ...`.
ENTRYPOINT ["rlarena"]
CMD ["executor", "--address", "[::]:8080"]
