# The deployable bundle: SAM validate/build, and Docker-free runs of the built function.
# Included by the Makefile. ARCH picks the architecture of `make build` (x86_64 here, so the
# built layer runs on this machine; deploy with ARCH=arm64, the template's default).

ARCH ?= x86_64
EVENT ?= events/score_success_rest.json
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_ENV := SAM_CLI_TELEMETRY=0
DEV_PYTHON ?= .venv/bin/python
BUILD_DIR := .aws-sam/build
ARM64_LAYER_BUILD_DIR := .aws-sam/build-arm64

.PHONY: sam-venv validate build build-layer-arm64 check-layer bundle-sizes invoke serve sam-local-db

# SAM CLI gets its own virtualenv: see requirements-sam.txt for why.
$(SAM): requirements-sam.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $(SAM)

sam-venv: $(SAM)

validate: $(SAM)
	$(SAM_ENV) $(SAM) validate --lint

# LAMBDA_ARCH tells layers/Makefile the architecture SAM builds for (SAM itself does not pass it).
build: $(SAM)
	$(SAM_ENV) LAMBDA_ARCH=$(ARCH) PYTHON=$(abspath $(SAM_VENV))/bin/python \
		$(SAM) build --build-in-source --build-dir $(BUILD_DIR) --parameter-overrides Architecture=$(ARCH)

build-layer-arm64: $(SAM)
	$(SAM_ENV) LAMBDA_ARCH=arm64 PYTHON=$(abspath $(SAM_VENV))/bin/python \
		$(SAM) build DependenciesLayer --build-in-source --build-dir $(ARM64_LAYER_BUILD_DIR) \
		--parameter-overrides Architecture=arm64
	BUNDLE_LAYER_DIR=$(ARM64_LAYER_BUILD_DIR)/DependenciesLayer BUNDLE_ARCH=arm64 \
		$(DEV_PYTHON) -m pytest -q -p no:cacheprovider tests/bundle/test_layer_arch.py

# Architecture check of the layer in $(BUILD_DIR) (the one `make build` made).
check-layer:
	$(DEV_PYTHON) -m pytest -q -p no:cacheprovider tests/bundle/test_layer_arch.py

# Unzipped sizes: Lambda allows 250 MB for function code and layers together.
bundle-sizes:
	@for d in $(BUILD_DIR)/ScoreFunction $(BUILD_DIR)/DependenciesLayer $(ARM64_LAYER_BUILD_DIR)/DependenciesLayer; do \
		if [ -d "$$d" ]; then printf '%8s  %s\n' "$$(du -sh "$$d" | cut -f1)" "$$d"; fi; \
	done

# Run the built function with one event against the demo database (embedded PostgreSQL if needed).
invoke:
	$(DEV_PYTHON) -m tools.invoke $(EVENT)

# http://127.0.0.1:3000: each request becomes an API Gateway REST event for the handler.
serve:
	$(DEV_PYTHON) -m tools.serve

# For `sam local invoke|start-api` (Docker): the demo data in database scorer_demo of the host's
# PostgreSQL, which events/env.local.json points the function at.
SAM_LOCAL_DSN ?= postgresql://postgres@127.0.0.1:5432/scorer_demo
sam-local-db:
	$(DEV_PYTHON) -m tools.invoke --load-demo $(SAM_LOCAL_DSN)
