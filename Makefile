# qase-defect-fanout: every target installs what it needs and can be run again safely.
# `make` alone lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
VENV_BIN  := $(CURDIR)/$(VENV)/bin
PYTHON    := $(VENV_BIN)/python
# Each group of pinned Python tools (requirements/*.txt) comes with the targets that use it;
# requirements/constraints.txt pins everything they pull in, whichever group comes first.
CONSTRAINTS  := requirements/constraints.txt
TEST_TOOLS   := $(VENV)/.test-tools
LAMBDA_TOOLS := $(VENV)/.lambda-tools
SAM_TOOLS    := $(VENV)/.sam-tools
# checkov (template-check) pins what it pulls in differently from the SAM CLI: its own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov
# The Rust toolchain rust-toolchain.toml pins, with its components and the arm64 target.
TOOLCHAIN    := target/.toolchain-installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# cargo-lambda finds zig as `python3 -m ziglang`: the venv's python must come first on PATH.
export PATH := $(VENV_BIN):$(PATH)
export MOTO_SERVER := $(VENV_BIN)/moto_server
export CARGO_TERM_COLOR ?= never
# SAM and cfn-lint work offline but want a region; no AWS account is used by any target here.
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

ARCH        ?= x86_64
EVENT       ?= events/defect-created.json
WATCH_PORT  ?= 9000
MOTO_PORT   ?= 5000

FUZZ_SECONDS ?= 60
CARGO_FUZZ_VERSION := 0.13.2

# Where the bench's binaries are: release for `make bench`; bench-quick, which judges nothing,
# builds them in the dev profile (a release build of its crate, LTO and one codegen unit,
# took over 3 minutes of CI).
BENCH_BIN  = bench/target/release
BENCH      = $(BENCH_BIN)/runtime-bench
BENCH_ARGS = --floor $(BENCH_BIN)/bare-echo --floor-publish $(BENCH_BIN)/floor-publish \
              --floor-sdk $(BENCH_BIN)/floor-sdk --event events/defect-created.json \
              --moto $(MOTO_SERVER) $(if $(COMPARE),--compare $(COMPARE))
# COMPARE=PATH: a second build of the function, measured beside it in the same blocks (A/B).
COMPARE ?=

.PHONY: help tools build backfill test lint template-check sam-build arm64-check package events demo watch invoke fuzz bench bench-quick check clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(PYTHON):
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 10) and \
	  "Python 3.10+ is needed: the pinned tools (requirements/) have no wheels for " + sys.version.split()[0])'
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet pip -c $(CONSTRAINTS)

$(CHECKOV): requirements/checkov.txt requirements/checkov-constraints.txt | $(PYTHON)
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r $< -c requirements/checkov-constraints.txt
	touch $@

$(VENV)/.%-tools: requirements/%.txt $(CONSTRAINTS) | $(PYTHON)
	$(PYTHON) -m pip install --quiet -r $< -c $(CONSTRAINTS)
	touch $@

# `rustup toolchain install` with no argument installs what rust-toolchain.toml names,
# including a target or component missing from an installed toolchain (plain cargo does not).
$(TOOLCHAIN): rust-toolchain.toml
	rustup toolchain install || { echo "rustup 1.28 or newer installs rust-toolchain.toml's" \
	  "toolchain with 'rustup toolchain install': run 'rustup self update'" >&2; exit 1; }
	mkdir -p $(@D) && touch $@

tools: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) $(SAM_TOOLS) ## Install every tool: the pinned Rust; moto, cfn-lint, pytest, cargo-lambda, zig, SAM CLI in .venv
	@cargo --version
	@cargo lambda --version
	@sam --version

demo: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) ## The whole job locally: emulator, function, every sample webhook, what each subscriber got
	cargo build --quiet --bin qase-defect-fanout
	$(PYTHON) scripts/demo.py

watch: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) ## Emulator + `cargo lambda watch` on 127.0.0.1:9000 (WATCH_PORT) until Ctrl-C
	$(PYTHON) scripts/demo.py --serve --moto-port $(MOTO_PORT) --watch-port $(WATCH_PORT)

invoke: $(LAMBDA_TOOLS) ## Send EVENT (default events/defect-created.json) to `make watch`; prints the response
	cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $(WATCH_PORT) --data-file $(EVENT) qase-defect-fanout

build: $(TOOLCHAIN) $(LAMBDA_TOOLS) ## Build the Lambda (release, x86_64) with cargo-lambda: target/lambda/*/bootstrap
	cargo lambda build --release --bin qase-defect-fanout
	@ls -l target/lambda/qase-defect-fanout/bootstrap

backfill: $(TOOLCHAIN) ## Build qase-backfill for this machine: target/release/qase-backfill (README, "Backfill")
	cargo build --release --quiet --bin qase-backfill
	@ls -l target/release/qase-backfill

test: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) ## Every test: unit, handler, AWS-contract oracle, emulator, release binary, template
	# tests/binary.rs runs the release bootstrap (panic = "unwind", as Cargo.toml says) under a Runtime API emulator:
	# built as `sam build` builds the x86_64 one, so that build (and make bench's) reuses it.
	cargo lambda build --release --bin qase-defect-fanout
	cargo test --all-targets
	$(PYTHON) -m pytest -q tests/template tests/docs

events: $(TOOLCHAIN) ## Regenerate events/ from the scenarios in tests/events.rs
	UPDATE_EVENTS=1 cargo test --quiet --test events
	cargo test --quiet --test events

lint: $(TOOLCHAIN) ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --all-targets --all-features -- -D warnings

template-check: $(TEST_TOOLS) $(SAM_TOOLS) $(CHECKOV) ## cfn-lint, `sam validate --lint` and checkov's scan of template.yaml (offline)
	cfn-lint template.yaml
	sam validate --lint
	# Every check passes or is skipped in the template, with its reason (docs/reliability-and-security.md).
	$(CHECKOV) -f template.yaml --framework cloudformation --quiet --compact --skip-download

sam-build: $(TOOLCHAIN) $(LAMBDA_TOOLS) $(SAM_TOOLS) ## `sam build` for ARCH (x86_64 here; the template's default is arm64)
	sam build --parameter-overrides Architecture=$(ARCH)
	@ls -l .aws-sam/build/WebhookFunction-Shared/bootstrap

# The two `sam build`s arm64-check tests and `make package` ships: files, built once and
# reused by both, again only when what goes into them changed.
SAM_BUILDS := .aws-sam/check-x86_64/WebhookFunction-Shared/bootstrap .aws-sam/check-arm64/WebhookFunction-Shared/bootstrap
BUILD_INPUTS := $(shell git ls-files src certs Cargo.toml Cargo.lock rust-toolchain.toml template.yaml 2>/dev/null)
.aws-sam/check-%/WebhookFunction-Shared/bootstrap: $(BUILD_INPUTS) | $(TOOLCHAIN) $(LAMBDA_TOOLS) $(SAM_TOOLS)
	sam build --parameter-overrides Architecture=$* --build-dir .aws-sam/check-$*
	touch $@
LAMBDA_BUILDS := x86_64=.aws-sam/check-x86_64/WebhookFunction-Shared/bootstrap \
                 arm64=.aws-sam/check-arm64/WebhookFunction-Shared/bootstrap
QEMU_ARM64    := qemu-aarch64 -L /usr/aarch64-linux-gnu
arm64-check: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) $(SAM_TOOLS) $(SAM_BUILDS) ## `sam build` for both architectures: their GLIBC within provided.al2023's, the arm64 one run under qemu-user against moto
	command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends qemu-user libc6-arm64-cross; }
	LAMBDA_BUILDS="$(LAMBDA_BUILDS)" QEMU_ARM64="$(QEMU_ARM64)" \
	  cargo test --quiet --features lambda-builds --test lambda_builds -- --nocapture

package: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) $(SAM_TOOLS) $(SAM_BUILDS) ## dist/: both architectures' zips and templates that deploy without Rust, and the SAR edition (docs/deploying.md)
	$(PYTHON) scripts/package.py
	for edition in dist/qase-defect-fanout-*/*/template.json; do \
	  cfn-lint $$edition && sam validate --lint --template $$edition || exit 1; done

fuzz: $(TOOLCHAIN) ## Fuzz the parsing path for FUZZ_SECONDS (default 60) with cargo-fuzz (libFuzzer)
	cargo fuzz --version 2>/dev/null | grep -q ' $(CARGO_FUZZ_VERSION)' \
	  || cargo install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	mkdir -p fuzz/corpus/parse_webhook
	cp tests/fixtures/qase/*.json tests/fixtures/*.json fuzz/corpus/parse_webhook/
	# cargo-fuzz asks for nightly-only flags; RUSTC_BOOTSTRAP lets this stable toolchain take
	# them. No sanitizer: the crate forbids unsafe code, so panics are what there is to find.
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse_webhook --sanitizer none -- \
	  -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | grep -vE '^(#[0-9]|"|INFO:|###)'

bench: $(TOOLCHAIN) $(TEST_TOOLS) $(LAMBDA_TOOLS) ## Cold start, warm cost, memory and package size against three floors (COMPARE=PATH: an A/B build)
	cargo lambda build --release --bin qase-defect-fanout --output-format zip --lambda-dir target/lambda-zip
	cargo lambda build --release --bin qase-defect-fanout --arm64 --output-format zip --lambda-dir target/lambda-zip-arm64
	cargo lambda build --release --bin qase-defect-fanout
	cd bench && cargo build --release --quiet
	$(BENCH) --function target/lambda/qase-defect-fanout/bootstrap $(BENCH_ARGS) \
	  --zip x86_64=target/lambda-zip/qase-defect-fanout/bootstrap.zip \
	  --zip arm64=target/lambda-zip-arm64/qase-defect-fanout/bootstrap.zip

bench-quick: BENCH_BIN = bench/target/debug
bench-quick: .aws-sam/check-x86_64/WebhookFunction-Shared/bootstrap $(TEST_TOOLS) ## The bench harness end to end in seconds: the x86_64 `sam build` binary, few runs, no targets
	cd bench && cargo build --quiet
	$(BENCH) --function .aws-sam/check-x86_64/WebhookFunction-Shared/bootstrap $(BENCH_ARGS) \
	  --quick --json target/bench/quick.json

# sam-build is not in it: arm64-check's two `sam build`s (x86_64 and arm64) are the ones
# package and bench-quick reuse. demo comes right after test, which has built its debug
# binary; after arm64-check (whose test turns a feature on) it would be built again.
check: lint template-check test demo arm64-check package bench-quick fuzz ## Everything CI runs (.ci/run calls this)

clean: ## Remove build output, SAM artifacts and the tool venv
	cargo clean
	rm -rf $(VENV) .aws-sam dist
