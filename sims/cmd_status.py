"""`hmodel status DIR`: what a sweep's results folder holds and what is still missing."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("status", help="show the rows done and missing in a sweep's results folder",
                       description="Consolidate DIR's finished rows into DIR/runs.parquet and list, per "
                                   "configuration, the rows done and the (seed, n) still missing.")
    p.add_argument("dir", help="results folder of `hmodel sweep`")
    p.set_defaults(func=main)


def main(args) -> int:
    text, complete = status_report(args.dir)
    print(text)
    return 0


def status_report(path) -> tuple[str, bool]:
    """The report printed by `hmodel status` and whether the sweep is complete."""
    from .store import ResultsStore, row_key

    store = ResultsStore(path)
    manifest = store.read_manifest() if store.path.is_dir() else None
    if manifest is None:
        raise ValueError(f"dir={str(path)!r} is not a sweep results folder (no sweep.json)")
    store.consolidate()
    done = store.done_keys()
    seeds = manifest["grid"]["seeds"]
    lines, n_done, n_total = [], 0, 0
    for c in manifest["configs"]:
        missing = {s: [n for n in c["ns"] if row_key(c["config_hash"], s, n) not in done] for s in seeds}
        total = len(c["ns"]) * len(seeds)
        got = total - sum(len(m) for m in missing.values())
        n_done, n_total = n_done + got, n_total + total
        lines.append(f"  {c['config_hash']}  {c['label']}: {got}/{total} rows")
        for s, m in missing.items():
            if m:
                lines.append(f"      missing seed {s}: {len(m)} n in [{m[0]}, {m[-1]}]")
    mode = "nested" if not manifest["grid"]["independent"] else "independent"
    k = len(manifest["configs"])
    head = (f"{store.path}: {k} configuration{'s' * (k != 1)} x {len(seeds)} seed{'s' * (len(seeds) != 1)}, {mode} sizes; "
            f"{n_done}/{n_total} rows done, {n_total - n_done} missing"
            + ("" if n_done < n_total else " (complete)"))
    return "\n".join([head] + lines), n_done == n_total
