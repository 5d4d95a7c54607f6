#!/usr/bin/env bash
# Checks the files in ops/ with Prometheus's own tool: the alert rules, the scrape job,
# and every query of the Grafana dashboard (written as recording rules into a scratch file,
# since promtool checks PromQL only in rules). That the metrics they name exist is checked
# against a running server by server/tests/api/metrics.rs.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v promtool >/dev/null || { echo "promtool missing: scripts/setup.sh test installs it" >&2; exit 1; }

promtool check rules ops/prometheus/alerts.yml
promtool check config --syntax-only ops/prometheus/scrape.yml

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 - ops/grafana/oncewallet.json >"$scratch/dashboard-rules.yml" <<'PY'
import json, sys

dashboard = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
count = 0
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        count += 1
        print(f"      - record: dashboard:query_{count}")
        print(f"        expr: {json.dumps(target['expr'])}")
if count == 0:
    sys.exit("the dashboard has no queries")
PY
echo "Checking the dashboard's queries ($(grep -c 'record:' "$scratch/dashboard-rules.yml"))"
promtool check rules "$scratch/dashboard-rules.yml"
