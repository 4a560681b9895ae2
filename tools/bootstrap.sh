#!/usr/bin/env bash
# Installs the pinned developer/CI toolchain (tools/requirements.txt) into ./.venv.
# Idempotent: a venv whose stamp matches the requirements file is reused as it is.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/tools/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

checkov_venv="$venv/checkov"
checkov_requirements="$root/tools/checkov-requirements.txt"
checkov_stamp="$checkov_venv/.requirements.sha256"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
checkov_want="$(sha256sum "$checkov_requirements" | cut -d' ' -f1)"
tools_ready() { [[ -x "$venv/bin/sam" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }
checkov_ready() { [[ -x "$checkov_venv/bin/checkov" && -f "$checkov_stamp" && "$(cat "$checkov_stamp")" == "$checkov_want" ]]; }
if tools_ready && checkov_ready; then
    exit 0
fi

if ! command -v "$python" >/dev/null; then
    echo "bootstrap: $python not found; install Python 3.9+ or set PYTHON=/path/to/python3" >&2
    exit 1
fi
if ! command -v cargo >/dev/null; then
    echo "bootstrap: cargo not found; install Rust from https://rustup.rs" >&2
    exit 1
fi

if ! tools_ready; then
    echo "bootstrap: installing pinned tools into $venv (first run takes a few minutes)" >&2
    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
if ! checkov_ready; then
    echo "bootstrap: installing checkov into $checkov_venv" >&2
    [[ -x "$checkov_venv/bin/python" ]] || "$python" -m venv "$checkov_venv"
    "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$checkov_requirements"
    echo "$checkov_want" > "$checkov_stamp"
fi
echo "bootstrap: tools ready: $("$venv/bin/sam" --version), $("$venv/bin/cargo-lambda" lambda --version 2>/dev/null || echo cargo-lambda)" >&2
