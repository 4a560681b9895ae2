#!/usr/bin/env python3
"""Release artifacts in dist/: the okta-relay CLI for x86-64 Linux and one Lambda zip per function
(a `bootstrap` built by Cargo Lambda for provided.al2023, as `sam build` builds it), with
SHA256SUMS. The same commit gives the same bytes:

- paths are remapped (`--remap-path-prefix`): the checkout and Cargo's home do not reach the
  binaries; the release profile strips symbols and debug info;
- every zip entry has the same time (1980-01-01, zip's epoch), mode 0755 and order;
- the build uses its own target directory (DIST_TARGET_DIR, default
  ~/.cache/okta-relay/dist-target), so the remapping flags never invalidate the test builds.

`dist.py --check` proves it: it builds here, then builds the same commit again in a fresh clone
at another path with another empty target directory, and compares every file's SHA-256. Two
full release builds: about half an hour on 2 cores, run for a release, not in CI.

Usage: scripts/dist.py [--check]
"""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

FUNCTIONS = ["relay", "watchdog", "redrive", "provisioner"]
ROOT = pathlib.Path(__file__).resolve().parent.parent
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def run(command, **kwargs):
    print("dist:", " ".join(str(part) for part in command), file=sys.stderr)
    subprocess.run(command, check=True, **kwargs)


def version(root):
    for line in (root / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise SystemExit("dist: no workspace version in Cargo.toml")


def build(root, target_dir):
    """Builds the CLI and the functions; answers {artifact name: bytes path}."""
    cargo_home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    commit_time = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()
    env = dict(
        os.environ,
        CARGO_TARGET_DIR=str(target_dir),
        SOURCE_DATE_EPOCH=commit_time,
        RUSTFLAGS=f"--remap-path-prefix={root}=/okta-relay --remap-path-prefix={cargo_home}=/cargo",
        CARGO_TERM_COLOR="never",
    )
    venv_bin = root / ".venv" / "bin"
    env["PATH"] = f"{venv_bin}:{env['PATH']}"
    run(["cargo", "build", "--locked", "--release", "-p", "okta-relay"], cwd=root, env=env)
    lambda_dir = target_dir / "dist-lambda"
    packages = [argument for name in FUNCTIONS for argument in ("-p", name)]
    run(
        ["cargo", "lambda", "build", "--release", "--locked", "--lambda-dir", str(lambda_dir)]
        + packages,
        cwd=root,
        env=env,
    )
    built = {f"okta-relay-{version(root)}-x86_64-linux": target_dir / "release" / "okta-relay"}
    for name in FUNCTIONS:
        built[f"okta-relay-{version(root)}-{name}.zip"] = lambda_dir / name / "bootstrap"
    return built


def package(built, out):
    """Writes the artifacts into `out` with SHA256SUMS; answers the sums."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, source in built.items():
        if name.endswith(".zip"):
            entry = zipfile.ZipInfo("bootstrap", date_time=ZIP_EPOCH)
            entry.external_attr = (0o100755 & 0xFFFF) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # Unix, so the mode above is honoured
            with zipfile.ZipFile(out / name, "w") as archive:
                archive.writestr(entry, source.read_bytes(), compresslevel=9)
        else:
            shutil.copyfile(source, out / name)
            (out / name).chmod(0o755)
    sums = {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in sorted(built)
    }
    (out / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


def main():
    target = pathlib.Path(
        os.environ.get("DIST_TARGET_DIR", pathlib.Path.home() / ".cache/okta-relay/dist-target")
    )
    check_glibc = ROOT / "scripts" / "check-glibc.sh"
    sums = package(build(ROOT, target), ROOT / "dist")
    run([check_glibc, "2.34"] + [target / "dist-lambda" / name / "bootstrap" for name in FUNCTIONS])
    print((ROOT / "dist" / "SHA256SUMS").read_text(), end="")
    if "--check" not in sys.argv[1:]:
        return 0
    with tempfile.TemporaryDirectory(prefix="okta-relay-dist-check-") as scratch:
        scratch = pathlib.Path(scratch)
        clone = scratch / "elsewhere" / "okta-relay"
        run(["git", "clone", "--quiet", str(ROOT), str(clone)])
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        run(["git", "checkout", "--quiet", head], cwd=clone)
        (clone / ".venv").symlink_to(ROOT / ".venv")
        again = package(build(clone, scratch / "target"), scratch / "dist")
    differ = [name for name in sums if sums[name] != again.get(name)]
    if differ:
        print(f"dist: NOT reproducible: {', '.join(differ)} differ between the two builds", file=sys.stderr)
        return 1
    print(f"dist: reproducible: {len(sums)} artifacts byte-identical across two builds at two paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
