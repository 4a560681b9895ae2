#!/usr/bin/env python3
"""Turns criterion's results for the event-pattern benchmark into the markdown table in
docs/PERFORMANCE.md (between the BEGIN/END markers), with each figure's ratio to the baseline
measured in the same run.

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


def table(criterion_dir):
    group = os.path.join(criterion_dir, "match")
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
            what = "baseline: `serde_json::Value` parse" if bench.startswith("baseline") else \
                f"`PatternSet::matching`, {bench.rsplit('_', 1)[1]} patterns"
            ratio = f"{ns / baseline:.2f}x" if baseline else "n/a"
            lines.append(f"| {size} | {what} | {ns / 1000:.2f} µs | {1e9 / ns:,.0f} | {ratio} |")
    return "\n".join(lines)


def main():
    criterion_dir, doc = sys.argv[1], sys.argv[2]
    body = (f"Machine: {machine()}.\n"
            f"Reproduce: `make bench` (or `cargo bench -p event-pattern --bench matching`).\n\n"
            f"{table(criterion_dir)}\n")
    with open(doc) as f:
        text = f.read()
    begin, end = "<!-- BEGIN event-pattern bench -->", "<!-- END event-pattern bench -->"
    if begin not in text or end not in text:
        sys.exit(f"{doc}: markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w") as f:
        f.write(f"{head}{begin}\n{body}{end}{tail}")


if __name__ == "__main__":
    main()
