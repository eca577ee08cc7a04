# loadtable.py OUTDIR — the tables of docs/performance.md from the JSON files of scripts/loadrun.sh.
import json, sys, os
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n)
    return json.load(open(p)) if os.path.exists(p) else None
def f(v, d=1):
    return "-" if v is None else f"{v:,.{d}f}"
def row(name, r):
    if r is None: return f"| {name} | (missing) |"
    ps = r.get("per_success") or {}
    s = r.get("server") or {}
    if r.get("argon2"):
        a = r["argon2"]
        cmp_ = f"raw Argon2id {f(a['hashes_per_s'])}/s ({f(a['before_hashes_per_s'])} before, {f(a['after_hashes_per_s'])} after): **{f(a['success_to_raw_percent'])} %**"
    elif r.get("floor"):
        fl = r["floor"]
        cmp_ = f"floor {f(fl['requests_per_s'],0)}/s ({f(fl['before_requests_per_s'],0)} before, {f(fl['after_requests_per_s'],0)} after): **{f(fl['success_to_floor'],2)}**"
    else: cmp_ = "-"
    st = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
    lat = r["latency_ms"]
    return (f"| {name} | {r['concurrency']} | {f(r['success_per_s'])} | {cmp_} | {f(lat['p50'])} | {f(lat['p99'])} | {st} | "
            f"{f(s.get('cpu_cores'),2)} | {f(ps.get('user_ms'),2)} | {f(ps.get('system_ms'),2)} | {f(ps.get('minor_faults'),1)} | "
            f"{f(ps.get('gc_cycles'),3)} | {f(ps.get('db_statements'),2)} / {f(ps.get('db_transactions'),2)} | {f(s.get('peak_rss_mib'))} |")
hdr = ("| scenario | clients | 2xx /s | against (same run) | p50 ms | p99 ms | answers | server CPU (cores) | user ms /2xx | system ms /2xx | minor faults /2xx | GC cycles /2xx | DB statements / transactions /2xx | server peak RSS MiB |\n"
       "|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for db in ["sqlite", "postgres"]:
    print(f"\n### {db}\n\n{hdr}")
    for c in [8, 32, 256]: print(row("login", load(f"{db}-login-{c}.json")))
    print(row("login, old GC budget (GOGC=400, GOMEMLIMIT=178MiB)", load(f"{db}-login-32-oldgc.json")))
    for c in [8, 32, 256]: print(row("recovery-email", load(f"{db}-recovery-email-{c}.json")))
    print(row("full-recovery (request, SMS code, verify, new password)", load(f"{db}-full-recovery-1.json")))
    print(row("delivery (e-mails/s from the outbox to the SMTP sink)", load(f"{db}-delivery.json")))
    for c in [8, 32, 256, "32-oldgc"]:
        r = load(f"{db}-login-{c}.json")
        if r and r.get("argon2"):
            a = r["argon2"]; print(f"<!-- bare loop {db} {c}: user {a['bare_user_ms_per_hash']:.2f} sys {a['bare_system_ms_per_hash']:.2f} faults {a['bare_minor_faults_per_hash']:.1f} -->")
r = load("two-instances.json")
if r:
    print("\n### two instances\n\n" + hdr); print(row("recovery-email, 2 × kilt serve", r)); print(json.dumps(r.get("delivered")))
r = load("soak.json")
if r:
    print("\n### soak\n"); print(row("recovery-email soak", r)); print(json.dumps(r.get("soak"), indent=1))
