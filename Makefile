# okta-relay: every target is idempotent and installs what it needs (see tools/bootstrap.sh).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_BETA_RUST_CARGO_LAMBDA := 1
# One target dir per machine, shared by every clone, so a fresh clone (CI) builds incrementally.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/okta-relay/target
export CARGO_TERM_COLOR ?= never

# Offline validation only: dummy credentials and region for sam/cfn-lint, never written to ~/.aws.
OFFLINE_AWS := AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline AWS_SESSION_TOKEN= \
	AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

TOOLS_STAMP := $(VENV)/.requirements.sha256

.PHONY: help tools demo test lint fmt-check clippy cargo-test template-lint build glibc-check bench soak install deploy dist dist-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

tools: ## Install the pinned toolchain into ./.venv (reused when present)
	@tools/bootstrap.sh

demo: ## Route the bundled sample Okta events locally (no AWS or Okta account needed)
	@scripts/demo.sh

test: tools lint build glibc-check cargo-test ## Everything CI runs: lints, template checks, sam build, all tests

lint: tools fmt-check clippy template-lint ## Rust and template lints

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

template-lint: tools
	$(OFFLINE_AWS) cfn-lint template.yaml
	$(OFFLINE_AWS) sam validate --lint --template template.yaml
	$(VENV)/checkov/bin/checkov --file template.yaml --framework cloudformation --skip-download --quiet --compact

build: tools ## sam build: a bootstrap per function under .aws-sam/build/
	@# One Cargo Lambda build of the four functions first: Cargo links them two at a time (a
	@# fat-LTO link is single-threaded, about 4 minutes each here), and sam build's one build per
	@# function, with the same flags and features, then finds each of them fresh.
	cargo lambda build --release --locked --bin relay --bin watchdog --bin redrive --bin provisioner
	$(OFFLINE_AWS) sam build --template template.yaml

glibc-check: ## The built bootstraps run on Amazon Linux 2023 (glibc 2.34)
	scripts/check-glibc.sh 2.34 .aws-sam/build/*/bootstrap

# The end-to-end suite (tests/tests/e2e/) runs the bootstraps `sam build` made, the very
# artifacts `sam deploy` ships. Ends with one summary line over every test binary and doc-test
# run: "tests: N passed, N failed".
cargo-test: build
	rm -f "$(CARGO_TARGET_DIR)/e2e-summary.txt"
	OKTA_RELAY_FUNCTIONS_DIR="$(CURDIR)/.aws-sam/build" cargo test --workspace --locked 2>&1 | tee "$(CARGO_TARGET_DIR)/cargo-test.log"
	@cat "$(CARGO_TARGET_DIR)/e2e-summary.txt" 2>/dev/null || true
	@awk '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed\n", p, f}' "$(CARGO_TARGET_DIR)/cargo-test.log"

bench: tools ## Benchmarks (criterion): matching, relay, pathological patterns, Lambda; writes docs/PERFORMANCE.md
	cargo bench --locked -p event-pattern --bench matching
	cargo bench --locked -p relay-core --bench relay
	cargo bench --locked -p relay-core --bench pathological
	cargo build --locked --release -p relay -p provisioner -p watchdog -p redrive -p okta-relay-e2e --bins
	cargo bench --locked -p okta-relay-e2e --bench lambda
	scripts/bench-report.py "$(CARGO_TARGET_DIR)/criterion" docs/PERFORMANCE.md

soak: build ## Outside CI: the burst scenario at Workflows' 10 requests/s per flow with 20,000 events (about 40 min)
	SOAK_EVENTS=20000 OKTA_RELAY_FUNCTIONS_DIR="$(CURDIR)/.aws-sam/build" cargo test --locked -p okta-relay-e2e --test e2e scenario_7 -- --nocapture

PREFIX ?= $(HOME)/.local

install: ## The okta-relay CLI, its man page and bash/zsh/fish completions under PREFIX (default ~/.local)
	cargo install --locked --path cli --root "$(PREFIX)"
	mkdir -p "$(PREFIX)/share/man/man1" "$(PREFIX)/share/bash-completion/completions" \
		"$(PREFIX)/share/zsh/site-functions" "$(PREFIX)/share/fish/vendor_completions.d"
	"$(PREFIX)/bin/okta-relay" man > "$(PREFIX)/share/man/man1/okta-relay.1"
	"$(PREFIX)/bin/okta-relay" completions bash > "$(PREFIX)/share/bash-completion/completions/okta-relay"
	"$(PREFIX)/bin/okta-relay" completions zsh > "$(PREFIX)/share/zsh/site-functions/_okta-relay"
	"$(PREFIX)/bin/okta-relay" completions fish > "$(PREFIX)/share/fish/vendor_completions.d/okta-relay.fish"

dist: tools ## Release artifacts in dist/: the CLI and each function's Lambda zip, reproducible, with SHA256SUMS
	scripts/dist.py

dist-check: tools ## Outside CI: build the release twice (two paths, two target dirs) and compare the bytes (about 30 min)
	scripts/dist.py --check

deploy: build ## sam deploy: guided the first time, then with the parameters samconfig.toml saved (needs AWS credentials)
	@if grep -q '^parameter_overrides' samconfig.toml; then sam deploy; else sam deploy --guided; fi

clean: ## Remove build outputs, including the shared cargo target dir (keeps the tool venv)
	rm -rf .aws-sam
	cargo clean
