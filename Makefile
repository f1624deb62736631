# qase-defect-fanout: every target installs what it needs and can be run again safely.
# `make` alone lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
VENV_BIN  := $(CURDIR)/$(VENV)/bin
TOOLS     := $(VENV)/.installed
# cargo-lambda finds zig as `python3 -m ziglang`: the venv's python must come first on PATH.
export PATH := $(VENV_BIN):$(PATH)
export MOTO_SERVER := $(VENV_BIN)/moto_server
export CARGO_TERM_COLOR ?= never

.PHONY: help tools build test lint check clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(TOOLS): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV_BIN)/python -m pip install --quiet --upgrade pip
	$(VENV_BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

tools: $(TOOLS) ## Install the dev tools (moto, cargo-lambda, zig, cfn-lint) into .venv
	@cargo --version
	@cargo lambda --version

build: $(TOOLS) ## Build the Lambda (release, x86_64) with cargo-lambda: target/lambda/*/bootstrap
	cargo lambda build --release
	@ls -l target/lambda/qase-defect-fanout/bootstrap

test: $(TOOLS) ## Run every test: unit, handler contract, and end to end against moto
	cargo test --all-targets

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

check: lint test ## Everything CI runs (.ci/run calls this)

clean: ## Remove build output and the tool venv
	cargo clean
	rm -rf $(VENV)
