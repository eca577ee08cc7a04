# ssotable.py DIR… — the single sign-on table of docs/performance.md from scripts/ssorun.sh's
# JSON files, one DIR per client count (each run of ssorun.sh with C=…). The last two columns
# are the machine's: the tool's CPU per 2xx, and the rest of the machine's busy time beyond
# the server's and the tool's (PostgreSQL's backends on the same cores).
import json, sys, os
def f(v, d=1):
    return "-" if v is None else f"{v:,.{d}f}"
print("| database | scenario | clients | 2xx /s | against (same run) | p50 ms | p99 ms | answers | server CPU (cores) | user ms /2xx | DB statements / transactions /2xx | server peak RSS MiB | tool ms /2xx | elsewhere ms /2xx |")
print("|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
for db, name in [("sqlite", "SQLite"), ("postgres", "PostgreSQL 15")]:
    for s in ["sso-refresh", "sso-code", "sso-userinfo", "sso-introspect"]:
        for d in sys.argv[1:]:
            p = os.path.join(d, f"{db}-{s}.json")
            if not os.path.exists(p):
                continue
            r = json.load(open(p))
            if r.get("rs256"):
                a = r["rs256"]
                cmp_ = f"raw RS256 {f(a['signatures_per_s'])}/s ({f(a['before_signatures_per_s'])} before, {f(a['after_signatures_per_s'])} after): **{f(a['success_to_raw_percent'])} %**"
            elif r.get("floor"):
                fl = r["floor"]
                cmp_ = f"floor {f(fl['requests_per_s'],0)}/s ({f(fl['before_requests_per_s'],0)} before, {f(fl['after_requests_per_s'],0)} after): **{f(fl['success_to_floor'],2)}**"
            else:
                cmp_ = "-"
            ps, sv, lat, m = r.get("per_success") or {}, r.get("server") or {}, r["latency_ms"], r.get("machine") or {}
            st = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
            print(f"| {name} | {s} | {r['concurrency']} | {f(r['success_per_s'])} | {cmp_} | {f(lat['p50'])} | {f(lat['p99'])} | {st} | "
                  f"{f(sv.get('cpu_cores'),2)} | {f(ps.get('user_ms'),2)} | {f(ps.get('db_statements'),2)} / {f(ps.get('db_transactions'),2)} | {f(sv.get('peak_rss_mib'))} | "
                  f"{f(m.get('client_cpu_ms_per_2xx'),2)} | {f(m.get('other_cpu_ms_per_2xx'),2)} |")
