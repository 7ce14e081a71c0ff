#!/usr/bin/env python3
"""Evaluates every query of a Grafana dashboard against a Prometheus that scraped a drill.

Run by .ci/dashboard-check.sh after the drill (see there). For each panel it evaluates each
target over the run through Prometheus's HTTP API, with the template variables and Grafana's
macros ($__rate_interval, $__range, ...) made concrete, and prints one line per panel. It fails
when a query answers no data, or when a target listed in MUST_MOVE stays flat at zero (or
NaN) over the whole drill. It then sets the dashboard's p99 of connect, presence_ack and
reconnect over the run beside summary.json's exact figures, and fails when one is off by more
than --tolerance.

Standard library only: Debian's python3 is all CI needs.
"""

import argparse
import json
import math
import sys
import urllib.parse
import urllib.request

# What a drill (scenarios/autoscale-drill-short.yaml: a scale-in, a kill and a scale-out under
# 300 visitors and signalling agents) must move, by panel title and target refId. Targets not
# listed here must answer data but may stay at zero: errors, violations (zero is a pass),
# queue depth, machine steal, visitors completed (they run until the end).
MUST_MOVE = {
    "Visitors: live and target": "AB",
    "Messages per second": "ABMN",
    "Load stage": "A",
    "Sessions opened and lost per second": "AB",
    "Visitors started and completed per second": "A",
    "p50 by metric": "A",
    "p99 by metric": "A",
    "p99 over the time range: connect, presence_ack, reconnect": "A",
    "Reconnects and lost sessions per second": "ABDE",
    "Reconnect time p50 / p99": "ABC",
    "Drill events": "A",
    "Sessions per instance": "A",
    "Messages per second per instance": "AB",
    "Instances, scale-outs, drains and kills": "ABCD",
    "Sessions opened per second per instance": "AB",
    "Sessions by transport (all instances)": "A",
    "Harness CPU (cores busy)": "A",
    "Harness memory and open files": "A",
    "Scheduling lag": "AB",
    "Open file descriptors": "A",
    "Run elapsed": "A",
    "Machine CPU: busy and stolen (share of all cores)": "A",
}

# The panel whose p99 is compared with summary.json, and the metrics compared.
P99_PANEL = "p99 over the time range: connect, presence_ack, reconnect"
P99_METRICS = ("connect", "presence_ack", "reconnect")


def api(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def concrete(expr, variables, macros):
    """The expression as Grafana would send it: variables and macros replaced, longest first."""
    for name in sorted({**variables, **macros}, key=len, reverse=True):
        value = macros.get(name, variables.get(name))
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    if "$" in expr:
        raise ValueError(f"a variable or macro left unreplaced in {expr}")
    return expr


def values_of(series):
    """Every value a range or instant answer holds, NaN where Prometheus says so."""
    points = series.get("values") or [series["value"]]
    return [float(value) for _, value in points]


def judge(result):
    """'no data', 'flat at zero', or 'moved' (with the largest value)."""
    numbers = [v for s in result for v in values_of(s) if not math.isnan(v)]
    if not numbers:
        return "no data", None
    if all(v == 0 for v in numbers):
        return "flat at zero", 0.0
    return "moved", max(abs(v) for v in numbers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--summary", required=True, help="the run's summary.json")
    parser.add_argument("--start", type=float, required=True, help="the run's start, Unix seconds")
    parser.add_argument("--end", type=float, required=True, help="the run's end, Unix seconds")
    parser.add_argument("--harness-job", required=True)
    parser.add_argument("--server-job", required=True)
    parser.add_argument("--scrape-interval", type=float, default=1.0)
    parser.add_argument("--tolerance", type=float, default=0.10, help="largest relative p99 error")
    args = parser.parse_args()

    prom, start, end = args.prometheus, args.start, args.end
    step = args.scrape_interval
    dashboard = json.load(open(args.dashboard))
    failures = []

    # The run, as the `run` variable would offer it: the one run label of the harness's series.
    runs = api(prom, "/api/v1/label/run/values", {"match[]": f'{{job="{args.harness_job}"}}',
                                                  "start": start, "end": end})
    if len(runs) != 1:
        print(f"FAIL  variable run: expected the drill's one run, found {runs}")
        return 1
    variables = {"job": args.harness_job, "run": runs[0], "shard": ".*", "server_job": args.server_job,
                 "datasource": "prometheus"}
    span = f"{max(1, math.ceil(end - start))}s"
    # Grafana's $__rate_interval: max($__interval + scrape interval, 4 scrape intervals).
    rate_interval = f"{int(max(step + args.scrape_interval, 4 * args.scrape_interval))}s"
    macros = {"__rate_interval": rate_interval, "__interval": f"{int(step)}s", "__range": span,
              "__range_s": span[:-1]}
    print(f"run {runs[0]}: {span} from {start:.0f}, step {step:g}s, $__rate_interval {rate_interval}")

    for variable in dashboard["templating"]["list"]:
        if variable.get("type") != "query":
            continue
        query = variable["definition"]
        inner = query[len("label_values("):-1]
        selector, label = (part.strip() for part in inner.rsplit(",", 1))
        found = api(prom, f"/api/v1/label/{label}/values",
                    {"match[]": concrete(selector, variables, macros), "start": start, "end": end})
        # A run in one process has no shard label: the variable offers All only.
        ok = bool(found) or variable["name"] == "shard"
        print(f"{'ok  ' if ok else 'FAIL'}  variable {variable['name']}: {', '.join(found) or '(none: All)'}")
        if not ok:
            failures.append(f"variable {variable['name']}")

    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    queries = 0
    for panel in panels:
        title = panel["title"]
        must = MUST_MOVE.get(title, "")
        parts, bad = [], []
        for target in panel.get("targets", []):
            expr = concrete(target["expr"], variables, macros)
            queries += 1
            if target.get("instant"):
                result = api(prom, "/api/v1/query", {"query": expr, "time": end})["result"]
            else:
                result = api(prom, "/api/v1/query_range",
                             {"query": expr, "start": start, "end": end, "step": step})["result"]
            verdict, peak = judge(result)
            ref = target["refId"]
            if verdict == "no data" or (ref in must and verdict != "moved"):
                bad.append(f"{ref} {verdict}" + (" (must move in a drill)" if verdict != "no data" else ""))
            parts.append(f"{ref}={verdict}" + (f" (max {peak:.4g}, {len(result)} series)" if peak else ""))
        status = "FAIL" if bad else "ok  "
        print(f"{status}  {title}: {'; '.join(parts)}")
        if bad:
            failures.append(f"{title}: {', '.join(bad)}")

    panel_queries = queries
    for annotation in dashboard["annotations"]["list"]:
        if "expr" not in annotation:
            continue
        expr = concrete(annotation["expr"], variables, macros)
        queries += 1
        result = api(prom, "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        verdict, _ = judge(result["result"])
        # Every annotation marks an event the drill has: a drill event, a scale-out, a drain, a kill.
        ok = verdict == "moved"
        print(f"{'ok  ' if ok else 'FAIL'}  annotation {annotation['name']}: {verdict}")
        if not ok:
            failures.append(f"annotation {annotation['name']}: {verdict}")

    # The dashboard's p99 over the run beside the report's exact one.
    panel = next(p for p in panels if p["title"] == P99_PANEL)
    expr = concrete(panel["targets"][0]["expr"], variables, macros)
    estimated = {s["metric"].get("metric"): float(s["value"][1])
                 for s in api(prom, "/api/v1/query", {"query": expr, "time": end})["result"]}
    latencies = json.load(open(args.summary))["metrics"]
    for metric in P99_METRICS:
        exact = latencies[metric]["p99"] / 1e6
        dashboard_p99 = estimated.get(metric, float("nan"))
        error = (dashboard_p99 - exact) / exact if exact > 0 else float("nan")
        ok = not math.isnan(error) and abs(error) <= args.tolerance
        print(f"{'ok  ' if ok else 'FAIL'}  p99 {metric}: dashboard {dashboard_p99 * 1e3:.2f} ms, "
              f"report {exact * 1e3:.2f} ms ({error * 100:+.1f}% off, at most {args.tolerance * 100:.0f}%; "
              f"{latencies[metric]['count']} samples)")
        if not ok:
            failures.append(f"p99 {metric}: {error * 100:.1f}% off")

    # What the run cost its Prometheus, for docs/metrics.md ("How many series").
    for job in (args.harness_job, args.server_job):
        samples = api(prom, "/api/v1/query", {"query": f'max_over_time(scrape_samples_scraped{{job="{job}"}}[{span}])',
                                              "time": end})["result"]
        print(f"      series per scrape of {job}: {', '.join(s['value'][1] for s in samples) or 'none'}")
    print(f"{queries} queries evaluated ({panel_queries} of {len(panels)} panels, "
          f"{queries - panel_queries} of annotations); {len(failures)} failure(s)")
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
