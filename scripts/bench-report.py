#!/usr/bin/env python3
"""Turns criterion's results for the event-pattern and relay benchmarks into the markdown tables
in docs/PERFORMANCE.md (between each one's BEGIN/END markers), with each figure's ratio to the
baseline measured in the same run.

Usage: bench-report.py CRITERION_DIR PERFORMANCE_MD
"""
import json
import os
import platform
import re
import subprocess
import sys


def mean_ns(path):
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"]


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {rustc}"


# criterion group -> (markers name, reproduce command, how to describe a benchmark)
GROUPS = {
    "match": ("event-pattern bench", "cargo bench -p event-pattern --bench matching",
              lambda bench: f"`PatternSet::matching`, {bench.rsplit('_', 1)[1]} patterns"),
    "relay": ("relay bench", "cargo bench -p relay-core --bench relay",
              lambda bench: f"`plan` (read, enrich, route, payloads), {bench.rsplit('_', 1)[1]} routes"),
}


def table(criterion_dir, group_name, describe):
    group = os.path.join(criterion_dir, group_name)
    rows = {}
    for bench in sorted(os.listdir(group)):
        bench_dir = os.path.join(group, bench)
        if not os.path.isdir(bench_dir) or bench == "report":
            continue
        for size in os.listdir(bench_dir):
            estimates = os.path.join(bench_dir, size, "new", "estimates.json")
            if os.path.exists(estimates):
                rows.setdefault(size, {})[bench] = mean_ns(estimates)
    lines = [
        "| event size | what | mean per event | events/s | ratio to baseline parse |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    def order(name):
        m = re.search(r"(\d+)$", name)
        return (0, 0) if name.startswith("baseline") else (1, int(m.group(1)) if m else 0)
    for size in sorted(rows, key=lambda s: int(s.rstrip("B"))):
        baseline = rows[size].get("baseline_serde_json_parse")
        for bench in sorted(rows[size], key=order):
            ns = rows[size][bench]
            what = "baseline: `serde_json::Value` parse" if bench.startswith("baseline") else describe(bench)
            ratio = f"{ns / baseline:.2f}x" if baseline else "n/a"
            lines.append(f"| {size} | {what} | {ns / 1000:.2f} µs | {1e9 / ns:,.0f} | {ratio} |")
    return "\n".join(lines)


def replace_between(text, name, body, doc):
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    if begin not in text or end not in text:
        sys.exit(f"{doc}: markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}{end}{tail}"


def main():
    criterion_dir, doc = sys.argv[1], sys.argv[2]
    with open(doc) as f:
        text = f.read()
    for group, (markers, command, describe) in GROUPS.items():
        if not os.path.isdir(os.path.join(criterion_dir, group)):
            sys.exit(f"no criterion results for group `{group}` in {criterion_dir}; run `{command}`")
        body = (f"Machine: {machine()}.\n"
                f"Reproduce: `make bench` (or `{command}`).\n\n"
                f"{table(criterion_dir, group, describe)}\n")
        text = replace_between(text, markers, body, doc)
    lambda_md = os.path.join(os.path.dirname(criterion_dir.rstrip("/")), "lambda-bench.md")
    if not os.path.exists(lambda_md):
        sys.exit(f"{lambda_md} missing; run `cargo bench -p okta-relay-e2e --bench lambda`")
    with open(lambda_md) as f:
        body = (f"Machine: {machine()}.\n"
                f"Reproduce: `make bench` (or `cargo build --release -p relay -p provisioner -p okta-relay-e2e "
                f"--bins && cargo bench -p okta-relay-e2e --bench lambda`).\n\n{f.read()}")
    text = replace_between(text, "lambda bench", body, doc)
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
