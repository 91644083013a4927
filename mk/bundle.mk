# The deployable bundle: SAM validate/build, and Docker-free runs of the built function.
# Included by the Makefile (uses its PY and install). ARCH picks the architecture of `make build`:
# x86_64 by default, so the built layer runs on this machine; deploy with ARCH=arm64, the template's
# default.

ARCH ?= x86_64
EVENT ?= events/score_success_rest.json
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_ENV := SAM_CLI_TELEMETRY=0
BUILD_DIR ?= .aws-sam/build
ARM64_LAYER_BUILD_DIR := .aws-sam/build-arm64
SAM_LOCAL_DSN ?= postgresql://postgres@127.0.0.1:5432/scorer_demo
DEPLOY_ARCH ?= arm64
CONFIG_ENV ?= staging

.PHONY: sam-venv validate build build-layer-arm64 check-layer bundle-sizes invoke invoke-all serve sam-local-db sam-local-check \
	deploy

# SAM CLI gets its own virtualenv: see requirements-sam.txt for why.
$(SAM): requirements-sam.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $(SAM)

sam-venv: $(SAM) ## Install the SAM CLI into .venv-sam

validate: $(SAM) ## sam validate --lint of template.yaml
	$(SAM_ENV) $(SAM) validate --lint

# LAMBDA_ARCH tells layers/Makefile the architecture SAM builds for (SAM does not pass it on).
build: $(SAM) ## sam build for ARCH (x86_64 by default, or arm64) into .aws-sam/build
	$(SAM_ENV) LAMBDA_ARCH=$(ARCH) PYTHON=$(abspath $(SAM_VENV))/bin/python \
		$(SAM) build --build-in-source --build-dir $(BUILD_DIR) --parameter-overrides Architecture=$(ARCH)

build-layer-arm64: $(SAM) install ## Build the arm64 dependency layer apart and check its binaries
	$(SAM_ENV) LAMBDA_ARCH=arm64 PYTHON=$(abspath $(SAM_VENV))/bin/python \
		$(SAM) build DependenciesLayer --build-in-source --build-dir $(ARM64_LAYER_BUILD_DIR) \
		--parameter-overrides Architecture=arm64
	BUNDLE_LAYER_DIR=$(ARM64_LAYER_BUILD_DIR)/DependenciesLayer BUNDLE_ARCH=arm64 \
		$(PY) -m pytest -q -p no:cacheprovider tests/bundle/test_layer_arch.py

check-layer: install ## Check the layer's binaries (architecture) and the bundle's 3.12 bytecode in .aws-sam/build
	$(PY) -m pytest -q -p no:cacheprovider tests/bundle/test_layer_arch.py tests/bundle/test_bytecode.py

# Lambda allows 250 MB unzipped for function code and layers together.
bundle-sizes: ## Unzipped sizes of the built function and layers
	@for d in $(BUILD_DIR)/ScoreFunction $(BUILD_DIR)/DependenciesLayer $(ARM64_LAYER_BUILD_DIR)/DependenciesLayer; do \
		if [ -d "$$d" ]; then printf '%8s  %s\n' "$$(du -sh "$$d" | cut -f1)" "$$d"; fi; \
	done

# The built functions under the Lambda Runtime Interface Emulator (tools/lambda_rie.py): CPython 3.12,
# code and layer read-only, SAM's environment. They run what the last `make build` made.
invoke: install $(SAM) ## Run EVENT=events/<file>.json on the built bundle under the Lambda emulator (demo database)
	$(PY) -m tools.invoke $(EVENT)

invoke-all: install $(SAM) ## Every sample event on the built bundle under the emulator, status and envelope checked
	$(PY) -m tools.invoke --check

serve: install $(SAM) ## The built functions behind http://127.0.0.1:3000 as API Gateway would call them (demo database)
	$(PY) -m tools.serve

# events/env.local.json points `sam local` at this database on the host's PostgreSQL.
sam-local-db: install ## Load the demo data into SAM_LOCAL_DSN, for sam local invoke/start-api
	$(PY) -m tools.invoke --load-demo $(SAM_LOCAL_DSN)

# sam deploy ships whatever the last build made: build for the architecture samconfig.toml deploys.
deploy: $(SAM) ## Build for DEPLOY_ARCH (arm64) and sam deploy --config-env CONFIG_ENV (staging|prod)
	$(MAKE) --no-print-directory build ARCH=$(DEPLOY_ARCH)
	$(SAM_ENV) $(SAM) deploy --config-env $(CONFIG_ENV)

# Real `sam local` in Docker, with a locally built stand-in of the python3.12 base image (no registry):
# root and apt needed; a few minutes the first time. See tools/sam_local_check.py.
sam-local-check: install $(SAM) ## sam local invoke (every sample event) and start-api (every route) in Docker, no registry
	$(PY) -m tools.sam_local_check $(SAM_LOCAL_ARGS)
