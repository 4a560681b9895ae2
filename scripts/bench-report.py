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


def results(criterion_dir, group_name):
    """(benchmark, parameter, mean ns) for every result of one criterion group."""
    group = os.path.join(criterion_dir, group_name)
    for bench in sorted(os.listdir(group)):
        bench_dir = os.path.join(group, bench)
        if not os.path.isdir(bench_dir) or bench == "report":
            continue
        for param in os.listdir(bench_dir):
            estimates = os.path.join(bench_dir, param, "new", "estimates.json")
            if os.path.exists(estimates):
                yield bench, param, mean_ns(estimates)


def table(criterion_dir, group_name, describe):
    rows = {}
    for bench, size, ns in results(criterion_dir, group_name):
        rows.setdefault(size, {})[bench] = ns
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


def pathological_table(criterion_dir):
    """The pathological-pattern benchmark: each case's table size, time per 256 KB event, ratio
    to merely parsing that event, and the 10 ms target."""
    baseline = None
    rows = []
    for bench, param, ns in results(criterion_dir, "pathological"):
        if bench.startswith("baseline"):
            baseline = ns
        else:
            rows.append((bench, param, ns))
    lines = [
        "| 8 KB route table | values | mean per 256 KB event | ratio to parsing the event | under 10 ms |",
        "| --- | ---: | ---: | ---: | :---: |",
    ]
    if baseline:
        lines.append(f"| baseline: parse the event (strict JSON) | - | {baseline / 1e6:.2f} ms | 1.00x | - |")
    for bench, param, ns in sorted(rows, key=lambda row: -row[2]):
        ratio = f"{ns / baseline:.2f}x" if baseline else "n/a"
        verdict = "yes" if ns < 10e6 else "**no**"
        time = f"{ns / 1e6:.2f} ms" if ns >= 1e5 else f"{ns / 1e3:.2f} µs"
        lines.append(f"| `{bench}` | {param} | {time} | {ratio} | {verdict} |")
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
    # Each section is rewritten from this run's results; one whose benchmark did not run keeps
    # the figures of the run that last measured it (its own machine line says which).
    missing = []
    for group, (markers, command, describe) in GROUPS.items():
        if not os.path.isdir(os.path.join(criterion_dir, group)):
            missing.append(command)
            continue
        body = (f"Machine: {machine()}.\n"
                f"Reproduce: `make bench` (or `{command}`).\n\n"
                f"{table(criterion_dir, group, describe)}\n")
        text = replace_between(text, markers, body, doc)
    command = "cargo bench -p relay-core --bench pathological"
    if os.path.isdir(os.path.join(criterion_dir, "pathological")):
        body = (f"Machine: {machine()}.\n"
                f"Reproduce: `make bench` (or `{command}`).\n\n"
                f"{pathological_table(criterion_dir)}\n")
        text = replace_between(text, "pathological bench", body, doc)
    else:
        missing.append(command)
    lambda_md = os.path.join(os.path.dirname(criterion_dir.rstrip("/")), "lambda-bench.md")
    if os.path.exists(lambda_md):
        with open(lambda_md) as f:
            body = (f"Machine: {machine()}.\n"
                    f"Reproduce: `make bench` (or `cargo build --release -p relay -p provisioner -p okta-relay-e2e "
                    f"--bins && cargo bench -p okta-relay-e2e --bench lambda`).\n\n{f.read()}")
        text = replace_between(text, "lambda bench", body, doc)
    else:
        missing.append("cargo bench -p okta-relay-e2e --bench lambda")
    for command in missing:
        print(f"bench-report: no results from `{command}` here; its section is unchanged", file=sys.stderr)
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
