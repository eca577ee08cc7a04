# loadtable.py OUTDIR — the tables of docs/performance.md from the JSON files of scripts/loadrun.sh.
# Per database, a second table puts sign-in's CPU per sign-in beside the bare Argon2id loop's
# per hash, measured in the tool's process during the raw windows of the same run.
# A file that is missing, empty or not JSON (a step that failed or was cut short) gives a row
# saying so, and the name of the file on stderr; the other rows are printed all the same.
import json, sys, os
out = sys.argv[1]
problems = []
def load(n):
    p = os.path.join(out, n)
    if not os.path.exists(p):
        return None
    try:
        with open(p) as fh:
            r = json.load(fh)
    except (OSError, ValueError) as e:
        problems.append(f"{p}: {'empty' if os.path.getsize(p) == 0 else e}")
        return {"_bad": "empty" if os.path.getsize(p) == 0 else "not JSON"}
    if not isinstance(r, dict):
        problems.append(f"{p}: not a JSON object")
        return {"_bad": "not a JSON object"}
    return r
def f(v, d=1):
    return "-" if v is None else f"{v:,.{d}f}"
def completed(r):
    """The median and rate of the operations that completed (full recovery): other classes
    (429s, failures) are not recoveries."""
    for c in r.get("classes") or []:
        if c.get("name") == "completed":
            return c
    return None
def row(name, r):
    if r is None: return f"| {name} | (missing) |"
    if r.get("_bad"): return f"| {name} | ({r['_bad']}: the step failed, see its .txt) |"
    ps = r.get("per_success") or {}
    s = r.get("server") or {}
    m = r.get("machine") or {}
    if r.get("argon2"):
        a = r["argon2"]
        cmp_ = f"raw Argon2id {f(a.get('hashes_per_s'))}/s ({f(a.get('before_hashes_per_s'))} before, {f(a.get('after_hashes_per_s'))} after): **{f(a.get('success_to_raw_percent'))} %**"
    elif r.get("floor"):
        fl = r["floor"]
        cmp_ = f"floor {f(fl.get('requests_per_s'),0)}/s ({f(fl.get('before_requests_per_s'),0)} before, {f(fl.get('after_requests_per_s'),0)} after): **{f(fl.get('success_to_floor'),2)}**"
        if fl.get("server_ms_per_request") is not None:  # what the floor cost, beside the run's per-2xx columns
            cmp_ += f"; per request the floor's server {f(fl['server_ms_per_request'],3)} ms CPU, the tool {f(fl.get('tool_ms_per_request'),3)}"
    else: cmp_ = "-"
    st = ", ".join(f"{k}: {v}" for k, v in sorted((r.get("statuses") or {}).items()))
    lat = r.get("latency_ms") or {}
    p50 = lat.get("p50")
    c = completed(r)
    if c:  # a full recovery's latency is that of the recoveries, not of the failures
        p50, lat = c["latency_ms"].get("p50"), c["latency_ms"]
    # SQLite's one writer: how long it was held per 2xx (kilt_db_write_lock_seconds_total)
    lock = f" (write lock {f(ps['db_write_lock_ms'],3)} ms)" if ps.get("db_write_lock_ms") else ""
    return (f"| {name} | {r.get('concurrency')} | {f(r.get('success_per_s'))} | {cmp_} | {f(p50)} | {f(lat.get('p99'))} | {st} | "
            f"{f(s.get('cpu_cores'),2)} | {f(ps.get('user_ms'),2)} | {f(ps.get('system_ms'),2)} | {f(ps.get('minor_faults'),1)} | "
            f"{f(ps.get('gc_cycles'),3)} | {f(ps.get('db_statements'),2)} / {f(ps.get('db_transactions'),2)}{lock} | {f(s.get('peak_rss_mib'))} | "
            f"{f(m.get('client_cpu_ms_per_2xx'),2)} | {f(m.get('other_cpu_ms_per_2xx'),2)} |")
# The last two columns are the machine's (/proc/stat): the tool's own CPU per 2xx, and the
# machine's busy time less the server's and the tool's (PostgreSQL's backends, when it runs
# on the same cores; about 0 otherwise).
hdr = ("| scenario | clients | 2xx /s | against (same run) | p50 ms | p99 ms | answers | server CPU (cores) | user ms /2xx | system ms /2xx | minor faults /2xx | GC cycles /2xx | DB statements / transactions /2xx | server peak RSS MiB | tool ms /2xx | elsewhere ms /2xx |\n"
       "|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
def ok(r): return r is not None and not r.get("_bad")
for db in ["sqlite", "postgres"]:
    print(f"\n### {db}\n\n{hdr}")
    for c in [8, 32, 256]: print(row("login", load(f"{db}-login-{c}.json")))
    print(row("login, old GC budget (GOGC=400, GOMEMLIMIT=178MiB)", load(f"{db}-login-32-oldgc.json")))
    for c in [8, 32, 256]:
        print(row("login, server alone on core 0 (the tool" + (", PostgreSQL" if db == "postgres" else "") +
                  " on core 1; raw Argon2id on core 0)", load(f"{db}-login-{c}-pinned.json")))
    for c in [8, 32, 256]: print(row("recovery-email", load(f"{db}-recovery-email-{c}.json")))
    for c in [1, 8]:
        print(row("full-recovery (request, SMS code, verify, new password; p50 of the recoveries)", load(f"{db}-full-recovery-{c}.json")))
    print(row("delivery (e-mails/s from the outbox to the SMTP sink)", load(f"{db}-delivery.json")))
    # Sign-in's CPU beside the bare Argon2id loop's in the same windows (issue 18).
    bare = []
    for c in [8, 32, 256, "32-oldgc", "8-pinned", "32-pinned", "256-pinned"]:
        r = load(f"{db}-login-{c}.json")
        if ok(r) and r.get("argon2") and "bare_user_ms_per_hash" in r["argon2"]:
            a, ps = r["argon2"], r.get("per_success") or {}
            bare.append(f"| {c} | {f(ps.get('user_ms'),2)} / {f(ps.get('system_ms'),2)} | "
                        f"{a['bare_user_ms_per_hash']:.2f} / {a['bare_system_ms_per_hash']:.2f} | "
                        f"{f(ps.get('minor_faults'),1)} / {a['bare_minor_faults_per_hash']:.1f} |")
    if bare:
        print("\n| sign-in, clients | server user / system ms per sign-in | bare loop user / system ms per hash (same windows) | minor faults per sign-in / per hash |\n|---|---:|---:|---:|")
        print("\n".join(bare))
    # Resets against sign-ins in the same run (SPEC §7: at least a third), both at 8 clients.
    fr, lg = load(f"{db}-full-recovery-8.json"), load(f"{db}-login-8.json")
    if ok(fr) and ok(lg) and lg.get("success_per_s"):
        print(f"\nresets per second at 8 clients ÷ sign-ins per second at 8 clients, same run: "
              f"{f(fr.get('success_per_s'))} ÷ {f(lg.get('success_per_s'))} = **{fr.get('success_per_s', 0) / lg['success_per_s']:.2f}**")
r = load("two-instances.json")
if r is not None:
    print("\n### two instances\n\n" + hdr); print(row("recovery-email, 2 × kilt serve", r))
    d = (r.get("delivered") or {}) if ok(r) else {}
    if d:
        print(f"\nDelivered: {d.get('expected', 0):,} expected, {d.get('received', 0):,} received, "
              f"{d.get('distinct', 0):,} distinct, after waiting {d.get('waited_s', 0):.1f} s.")
r = load("soak.json")
if r is not None:
    print("\n### soak\n\n" + hdr); print(row("recovery-email soak", r))
    if ok(r): print(json.dumps(r.get("soak"), indent=1))
for p in problems:
    print(f"loadtable: {p}", file=sys.stderr)
