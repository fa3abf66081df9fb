"""Phasing benchmark (issue 10): charge flipping on true, truncated and extended data, judged only on structures no model saw.

Groups (`xrdphase.benchmark`): `real` — every COD structure of ../shared/cod that cctbx reads, in any space group
(--real-groups monoclinic: the monoclinic ones only, the thesis's rows; calculated |F| with H), sucrose, and thpp with its
measured intensities; `generated` — --n-generated molecular crystals of MOSES molecules of the 'test'
split (never used for training, never an evaluation molecule), in the default spec's monoclinic groups or, with
--generated-groups organic, in the common organic groups (P2₁/c, P-1, C2/c, P2₁2₁2₁, P2₁, Pbca, Pna2₁, P1), or with
--generated-groups acentric in the non-centrosymmetric monoclinic P2₁ and Cc only (group 'generated (P2₁, Cc)'). Conditions: true data at --d-high, data at --d-low only,
the Wilson fill, every --method (extension methods of `xrdphase.extension`; with --origin-cc X each again with
charge flipping's origin threshold X, chosen on a dev split by bench/origin_cc.py), every --weights model, and true data at
the --cliff resolutions; --from-d extends data from a lower resolution too (e.g. 1.5 Å). --noise LEVEL... adds
measured-like groups ('real · middle noise', …): the same structures with simulated measured data
(`xrdphase.measurement`: counting noise, absorption-like error, missing reflections, zingers, French–Wilson |F|),
solved with the same seeds and reported paired with the noise-free rows. `--groups measured`: the measured data sets of
tests/data and thpp as measured ('measured sets · measured'), paired with their calculated twins ('measured sets': the
deposited model's non-H atoms, complete to the data's d_min; `xrdphase.benchmark.measured_cases`). Each condition's numbers are
on the structures its model never saw (the COD fine-tuned grid networks: the 18 COD test structures, sucrose, thpp).

Prints, per group, the table (n, solved with 95 % Wilson interval, paired gained/lost against the Wilson fill and
against d_low only with exact McNemar p, R_new of the extended amplitudes with bootstrap interval, CPU seconds per
structure: process time of extension and solving, `cpu_seconds` in every row, wall seconds kept as `wall_seconds`), per
group the solved k/n (95 % Wilson interval) of every condition by crystal system and by centric/acentric (`families` in
the summary), and one JSON line last. --real-cases NAME (repeatable) runs only those real structures (a small check). Writes runs/bench_phasing/summary.json (and the per-case rows in runs/bench_phasing/cases.jsonl, which
make it resumable); --update-reference also writes the committed reference/phasing_benchmark.json and
reference/phasing_cases.jsonl, replacing the groups it ran and keeping the others (so the groups can run separately).

Time: about 2 CPU s per solve on one core; the default (48 real + 200 generated structures, about 12 conditions) is
about 3 hours on one core, half with --workers 2. --quick: 4 real + 3 generated structures, a few minutes.
"""
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, dataclasses, datetime, json, re, shlex, sys, time
from pathlib import Path
from xrdphase.core import atomic_write_text
from xrdphase import benchmark as B

ROOT = Path(__file__).resolve().parent.parent
W = ROOT / 'reference' / 'weights'
REFERENCE_MODELS = [(f'{label} ({how})', str(W / f'd2_{arch}_{stage}.pt'), None if stage == 'pre' else 'cod-finetune')
                    for arch, label in (('unet', 'UNet'), ('fft_unet', 'FFT_UNet'), ('transformer', 'XRD_Transformer'), ('unet_wilson', 'UNet + Wilson'))
                    for stage, how in (('pre', 'random-atom pretrained'), ('ft', 'COD fine-tuned'))]


REF_JSON, REF_ROWS = ROOT / 'reference' / 'phasing_benchmark.json', ROOT / 'reference' / 'phasing_cases.jsonl'
REAL_ANY = B.REAL_ANY     # the real group's name with --real-groups all ('real': the monoclinic rows)
GEN_ANY = B.GENERATED_ANY   # the generated group's name with --generated-groups organic ('generated': the monoclinic rows)
GEN_NAMES = {'monoclinic': 'generated', 'organic': GEN_ANY, 'acentric': B.GENERATED_ACENTRIC}   # --generated-groups: the group's name
PER_GROUP = ('table', 'n', 'conditions', 'command', 'wall_seconds', 'cpu_seconds', 'families', 'failed')


def merge_reference(summary:dict, rows:list, groups:list) -> tuple:
    "(summary, rows) with the committed groups that this run did not run kept (when the committed file has this VERSION)."
    old = json.loads(REF_JSON.read_text()) if REF_JSON.exists() else {}
    keep = [g for g in old.get('table', {}) if g not in groups] if old.get('version') == B.VERSION else []
    if not keep: return summary, rows
    for k in PER_GROUP: summary[k] = {**{g: old[k][g] for g in keep if g in old.get(k, {})}, **summary[k]}   # older files: no cpu_seconds
    if 'generated' in keep: summary['generated_failed'] = old['generated_failed']
    old_rows = [json.loads(line) for line in REF_ROWS.read_text().splitlines()]
    rows = [r for r in old_rows if r['group'] in keep] + rows
    summary['noise_pairs'] = B.noise_pairs(rows)     # every noisy group of the merged file, not only this run's
    return summary, rows


def group_names(a) -> list:
    "The names of the groups a command line runs (before any structure is read): real or real (any space group), measured and its twins, generated, and their noisy copies."
    base = []
    for g in a.groups.split(','):
        if g == 'real': base.append('real' if a.real_groups == 'monoclinic' else REAL_ANY)
        elif g == 'measured': base += [B.MEASURED_GROUP, f"{B.MEASURED_GROUP} · {B.MEASURED_TAG}"]
        elif g == 'generated': base.append(GEN_NAMES[a.generated_groups])
        else: base.append(g)
    return base + [B.noise_group(g, lv) for lv in a.noise for g in base if B.base_group(g) != B.MEASURED_GROUP]


def only_groups(summary:dict, rows:list, write:list) -> tuple:
    "(summary, rows, groups) of the groups in `write` only: the per-group fields and the rows."
    return {**summary, **{k: {g: summary[k][g] for g in write if g in summary[k]} for k in PER_GROUP}}, [r for r in rows if r['group'] in write], write


def conditions(a, group:str) -> list:
    "The conditions of one group from the command line: for each --solver, the standard rows, the models, the methods."
    names = a.model + (a.generated_model if group in GEN_NAMES.values() else [])
    models = [m for m in REFERENCE_MODELS if (a.reference_models and group in ('real', REAL_ANY)) or m[0] in names]
    models += [(w.split('=', 1)[0], w.split('=', 1)[1], None) for w in a.weights]
    out = []
    for solver in a.solver:
        methods = [tuple(m.split('=', 1)) if '=' in m else m for m in (a.method if solver == 'fixed' else a.smtbx_method)]
        out += B.standard_conditions(a.d_low, a.d_high, models if solver in a.models_with else [], a.cliff if solver == 'smtbx' else a.cliff_fixed,
                                     methods, [d for d, _ in a.from_d], solver)
        if solver == 'fixed' and a.origin_cc is not None:             # the same methods again with another origin threshold
            x = origin_cc(a.origin_cc)
            out += [B.Condition(f'{name}, origin cc ≥ {x}{B.FIXED_TAG}', a.d_high, a.d_low, m, min_cc=x, **B.SOLVERS['fixed'])
                    for name, m in (mm if isinstance(mm, tuple) else (mm, mm) for mm in methods)]
    named = {n for _, names in a.from_d for n in names or ()} | {spec.rsplit('=', 1)[0] for spec in a.runs}
    if unknown := sorted(named - {_method_name(c) for c in out}):
        raise SystemExit(f"--from-d/--runs: {unknown} name no --method row of group {group!r}")
    return [dataclasses.replace(c, max_runs=runs) if (runs := _method_runs(a, c)) else c for c in out if _kept(a, c)]


def from_d(text:str) -> tuple:
    "--from-d: 'D' (every method from D Å) or 'D:NAME,NAME' (only these methods' rows, and the Wilson fill, from D Å)."
    d, _, names = text.partition(':')
    try: value = float(d)
    except ValueError: raise argparse.ArgumentTypeError(f"{text!r}: not D or D:NAME,NAME (D in Å)") from None
    return value, tuple(n.strip() for n in names.split(',') if n.strip()) or None

def _method_name(cond) -> str:
    "The --method NAME a row was made from: its name without the solver tag and ' from D Å'."
    return re.sub(r' from \d+\.\d Å$', '', cond.name.removesuffix(B.FIXED_TAG))

def _kept(a, cond) -> bool:
    "False for a row extended from a --from-d resolution that names its methods, and not this row's (the Wilson fill is always kept)."
    names = dict(a.from_d).get(cond.d_low)
    return names is None or cond.method == 'wilson' or _method_name(cond) in names

def _method_runs(a, cond) -> int|None:
    "--runs NAME=K: at most K seeded runs for the rows of method NAME (from every resolution), else None."
    runs = {name: int(k) for name, k in (spec.rsplit('=', 1) for spec in a.runs)}
    return runs.get(_method_name(cond))


def origin_cc(value:str) -> float:
    "--origin-cc: a number, or 'chosen' (the dev-split choice of bench/origin_cc.py in reference/origin_cc.json)."
    if value != 'chosen': return float(value)
    return float(json.loads((ROOT / 'reference' / 'origin_cc.json').read_text())['chosen'])


def family_tables(rows:list, conds:dict) -> dict:
    "{group: {split: {condition: {family: n, solved, rate, ci}}}}: every condition of each group by crystal system and by centric/acentric."
    return {g: {key: {c.name: B.family_summary([r for r in rows if r['group'] == g], c.name, key) for c in cs} for key in B.FAMILY_KEYS}
            for g, cs in conds.items()}


def family_markdown(rows:list, conds:dict) -> str:
    "The per-family tables of every group, printed after the main tables."
    return '\n\n'.join(f"**{g}** by {key.replace('_', ' ')}\n\n" + B.family_table([r for r in rows if r['group'] == g], cs, key)
                        for g, cs in conds.items() for key in B.FAMILY_KEYS)


def real_group(a) -> tuple:
    "(cases, left out) of the command line: --real-groups (all: group REAL_ANY), then --real-cases (names) if given, then --quick's last 4; what `B.real_group` left out, as dicts."
    cases, left_out = B.real_group(groups=a.real_groups)
    if a.real_cases:
        missing = sorted(set(a.real_cases) - {c.name for c in cases})
        if missing: raise SystemExit(f"--real-cases: {missing} not among the real cases of --real-groups {a.real_groups}")
        cases = [c for c in cases if c.name in a.real_cases]
    cases = cases[-4:] if a.quick else cases
    cases = cases if a.real_groups == 'monoclinic' else [dataclasses.replace(c, group=REAL_ANY) for c in cases]
    return cases, [dict(name=n, reason=why) for n, why in left_out]


def generated_spec(groups:str):
    "The generated group's spec: MOSES molecules of the 'test' split, in the default spec's groups, the common organic ones or P2₁ and Cc."
    from xrdphase.molecular import MolecularSpec, COMMON_ORGANIC_GROUPS
    return MolecularSpec(smiles='moses', split='test', **{'monoclinic': {}, 'organic': COMMON_ORGANIC_GROUPS, 'acentric': B.ACENTRIC_GROUPS}[groups])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--groups', default='real,generated', help="comma-separated: real, generated, measured (default: real,generated)")
    ap.add_argument('--real-groups', default='all', choices=['all', 'monoclinic'], help=f"the real group's COD structures: every group (default; the group is named {REAL_ANY!r}) or the monoclinic ones (group 'real', the thesis's rows)")
    ap.add_argument('--real-cases', action='append', default=[], metavar='NAME', help='only these real structures (repeatable; e.g. 7052868)')
    ap.add_argument('--generated-groups', default='monoclinic', choices=sorted(GEN_NAMES), help="the generated group's space groups: the default spec's monoclinic ones (the committed rows), xrdphase.molecular.COMMON_ORGANIC_GROUPS (organic) or the non-centrosymmetric monoclinic P2₁ and Cc (acentric, xrdphase.benchmark.ACENTRIC_GROUPS)")
    ap.add_argument('--n-generated', type=int, default=200, help='generated molecular crystals (default 200)')
    ap.add_argument('--d-low', type=float, default=1.2)
    ap.add_argument('--d-high', type=float, default=1.0)
    ap.add_argument('--cliff', type=float, nargs='*', default=[0.8, 1.5, 2.0], help='true data at these resolutions too')
    ap.add_argument('--method', action='append', default=[], help="an extension method of xrdphase.extension, or NAME=METHOD (repeatable; with the fixed solver)")
    ap.add_argument('--smtbx-method', action='append', default=[], help="an extension method (or NAME=METHOD) with smtbx's detector too (repeatable)")
    ap.add_argument('--from-d', type=from_d, action='append', default=[], metavar='D[:NAME,...]', help="also extend data from D Å (repeatable); 'D:NAME,NAME': only these methods (and the Wilson fill) from D Å")
    ap.add_argument('--runs', action='append', default=[], metavar='NAME=K', help="at most K seeded runs for method NAME's rows (repeatable; e.g. a compute-matched baseline)")
    ap.add_argument('--weights', action='append', default=[], metavar='NAME=PATH', help='a grid model to extend with (repeatable)')
    ap.add_argument('--reference-models', action='store_true', help='the eight committed D2 grid models (pretrained and fine-tuned)')
    ap.add_argument('--model', action='append', default=[], help='one of the committed D2 grid models by its row name (repeatable)')
    ap.add_argument('--generated-model', action='append', default=[], help='a committed model for the generated group only (--reference-models: real group only)')
    ap.add_argument('--solver', action='append', default=None, choices=sorted(B.SOLVERS), help="charge-flipping settings: 'smtbx' (its skewness detector, 4 runs) and/or 'fixed' (600 cycles per attempt, 8 runs); default both")
    ap.add_argument('--models-with', action='append', default=None, help="solvers the model rows run with (default: smtbx)")
    ap.add_argument('--origin-cc', default=None, metavar='X|chosen', help="also every --method of the fixed solver with origin threshold X (FlipSettings.min_cc); 'chosen': bench/origin_cc.py's dev-split choice")
    ap.add_argument('--cliff-fixed', type=float, nargs='*', default=[1.5], help='true data at these resolutions with the fixed solver')
    ap.add_argument('--max-runs', type=int, default=4, help='seeded charge-flipping runs per case (default 4)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--workers', type=int, default=1, help='processes (at most 2 on the shared machine)')
    ap.add_argument('--out', default=str(ROOT / 'runs' / 'bench_phasing'), help='folder of cases.jsonl and summary.json (default runs/bench_phasing)')
    ap.add_argument('--update-reference', action='store_true', help='write reference/phasing_benchmark.json and reference/phasing_cases.jsonl')
    ap.add_argument('--update-groups', default=None, metavar='G,...', help='with --update-reference: write only these of the groups run (e.g. a noisy group whose noise-free rows are committed by a larger run)')
    ap.add_argument('--quick', action='store_true', help='4 real + 3 generated structures, 2 runs each (a smoke test)')
    ap.add_argument('--noise', nargs='*', default=[], choices=list(B.NOISE_LEVELS),
                    help="also each group's structures as measured at these noise levels (xrdphase.measurement), paired with the noise-free rows")
    a = ap.parse_args(argv)
    a.solver, a.models_with = a.solver or ['smtbx', 'fixed'], a.models_with or ['smtbx']
    if a.workers > 2: ap.error('--workers: at most 2 on the shared machine')
    groups = a.groups.split(',')
    if a.update_groups and not set(a.update_groups.split(',')) <= set(group_names(a)):
        ap.error(f"--update-groups: {a.update_groups} not among the groups this command runs: {group_names(a)}")
    cases, failed, left_out = [], [], []
    if 'real' in groups:
        real, left_out = real_group(a)
        cases += real
        for r in left_out: print(f"real group: left out {r['name']}: {r['reason']}", file=sys.stderr)
        groups = [REAL_ANY if g == 'real' and a.real_groups == 'all' else g for g in groups]
    if 'measured' in groups:
        cases += B.measured_cases(ROOT / 'tests' / 'data')
        groups = [g for g in groups if g != 'measured'] + [B.MEASURED_GROUP, f"{B.MEASURED_GROUP} · {B.MEASURED_TAG}"]
    if 'generated' in groups:
        gen, failed = B.generated_cases(3 if a.quick else a.n_generated, spec=generated_spec(a.generated_groups))
        name = GEN_NAMES[a.generated_groups]
        gen = [dataclasses.replace(c, group=name) for c in gen]
        groups = [name if g == 'generated' else g for g in groups]
        cases += gen
    max_runs = 2 if a.quick else a.max_runs
    noisy = B.noisy_cases(cases, a.noise)
    cases, groups = cases + noisy, groups + list(dict.fromkeys(c.group for c in noisy))
    conds = {g: conditions(a, B.base_group(g)) for g in groups}
    out = Path(a.out)
    print(f"{len(cases)} structures ({', '.join(f'{g}: {sum(c.group == g for c in cases)}' for g in groups)}), {len(failed)} generated "
          f"structures failed; conditions: " + '; '.join(f"{g}: {[c.name for c in conds[g]]}" for g in groups), file=sys.stderr)
    t0 = time.perf_counter()
    rows = [r for g in groups for r in B.run_benchmark([c for c in cases if c.group == g], conds[g], out / 'cases.jsonl', a.seed, max_runs, a.workers)]
    rows = B.add_families(rows, cases)
    seen = {k: f() for k, f in B.SEEN.items()}
    baselines = ('Wilson fill', f'{a.d_low:.1f} Å only', 'Wilson fill [600 cycles]', f'{a.d_low:.1f} Å only [600 cycles]')
    table = {g: B.summarise_benchmark([r for r in rows if r['group'] == g], conds[g], seen, baselines)[g] for g in groups}
    cmd = shlex.join(['python', 'bench/phasing.py'] + (argv or sys.argv[1:]))
    summary = dict(bench='phasing', version=B.VERSION, date=datetime.date.today().isoformat(), command={g: cmd for g in groups},
                   d_low=a.d_low, d_high=a.d_high, max_runs=max_runs, seed=a.seed, baselines=baselines, solvers=B.SOLVERS,
                   n={g: sum(c.group == g for c in cases) for g in groups}, generated_failed=failed, seen={k: sorted(v) for k, v in seen.items()},
                   conditions={g: [dataclasses.asdict(c) for c in conds[g]] for g in groups}, table=table, wall_seconds={g: round(time.perf_counter() - t0, 1) for g in groups},
                   cpu_seconds={g: round(sum(r.get('cpu_seconds', 0) for r in rows if r['group'] == g), 1) for g in groups},
                   families=family_tables(rows, conds), failed={g: failed if B.base_group(g) in GEN_NAMES.values() else left_out for g in groups if B.base_group(g) in {*GEN_NAMES.values(), 'real', REAL_ANY}})
    print(B.summary_markdown(summary))
    print('\n' + family_markdown(rows, conds))
    if any(B.base_group(g) != g for g in groups):
        summary['noise_pairs'] = B.noise_pairs(rows)
        print('\n**Measured or noisy against calculated** (same structures, same solving seeds)\n\n' + B.noise_table(summary['noise_pairs']))
    atomic_write_text(out / 'summary.json', json.dumps(summary, indent=1))
    if a.update_reference:
        summary, rows = merge_reference(*only_groups(summary, rows, a.update_groups.split(",") if a.update_groups else groups))
        atomic_write_text(REF_JSON, json.dumps(summary, indent=1))
        atomic_write_text(REF_ROWS, ''.join(json.dumps(r) + '\n' for r in rows))
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
