"""Errors a person can read: every bad input below is one line on stderr naming the file, line or field, with the exit
status of its kind (see `xrdphase --help`). `python tests/test_cli_errors.py` prints the table of inputs and outcomes."""
import xrdphase  # noqa: F401
import contextlib, io, json, os, shutil, subprocess, sys, time
from pathlib import Path
import pytest
from xrdphase.cli import main, EXIT_CODES
from xrdphase.core import cctbx_test_data, reference_dir

THPP_CIF, THPP_INS, THPP_HKL = (str(cctbx_test_data(f'thpp.{x}')) for x in ('cif', 'ins', 'hkl'))

# (what is wrong, argv with {placeholders}, expected exit status, a piece of the expected message)
CASES = [
    ('simulate: no structures', 'simulate --n 0 --out {tmp}/s0', 4, 'simulate(n=0): need a positive integer'),
    ('simulate: --out under a regular file', 'simulate --n 4 --out {file}/s', 6, 'not a directory'),
    ('simulate: unknown preset', 'simulate --n 4 --out {tmp}/s1 --preset nosuch', 2, "--preset: invalid choice: 'nosuch'"),
    ('ingest-cif: folder missing', 'ingest-cif {tmp}/nothere --out {tmp}/c', 3, 'nothere: no such folder'),
    ('ingest-cif: folder without CIFs', 'ingest-cif {empty} --out {tmp}/c', 4, 'no *.cif files'),
    ('verify: store missing', 'verify {tmp}/nostore', 3, 'nostore: no such store directory'),
    ('verify: one bit flipped in a chunk', 'verify {altered}', 5, 'chunk-00001.npz: SHA-256 differs'),
    ('info: a folder that is not a store', 'info {empty}', 4, 'not a store (no manifest.json)'),
    ('info: one bit flipped in a chunk', 'info {altered}', 5, 'chunk-00001.npz: SHA-256 differs from the manifest (altered)'),
    ('info: truncated chunk', 'info {truncated} --no-scan', 5, 'chunk-00001.npz: size'),
    ('evaluate: chunk missing', 'evaluate --data {missing} --task d1 --baselines zero', 5, 'chunk-00001.npz: missing'),
    ('evaluate: weights file missing', 'evaluate --data {store} --weights {tmp}/nothere.pt', 3, '--weights {tmp}/nothere.pt: no such file'),
    ('evaluate: weights file is not weights', 'evaluate --data {store} --weights {garbage}', 4, 'not a readable xrdphase weights file'),
    ('evaluate: weights file truncated', 'evaluate --data {store} --weights {truncated_pt}', 4,
     'failed finding central directory. This is an internal miniz error. If you are seeing this error, there is a high likelihood that your checkpoint file is corrupted. This can happen if the checkpoint was not saved properly, was transferred incorrectly, or the file was modified after saving.'),
    ('evaluate: two split fractions', 'evaluate --data {store} --fractions 0.5,0.5', 4, "split fractions '0.5,0.5'"),
    ('train: store missing', 'train --data {tmp}/nostore --out {tmp}/run', 3, '--data {tmp}/nostore: no such store directory'),
    ('train: one bit flipped in a chunk', 'train --data {altered} --fractions 0.5,0.25,0.25 --task d1 --arch unet --size tiny --epochs 1 '
     '--out {tmp}/run_altered --quiet', 5, 'chunk-00001.npz: SHA-256 differs'),
    ('train: config is not JSON', 'train --config {badjson} --out {tmp}/run', 4, 'bad.json: not valid JSON'),
    ('train: no model given', 'train --data {store} --out {tmp}/run', 4, 'give `model`'),
    ('solve: CIF missing', 'solve --cif {tmp}/missing.cif', 3, '--cif {tmp}/missing.cif: no such file'),
    ('solve: CIF without atom sites', 'solve --cif {noatoms}', 4, 'no atom sites'),
    ('solve: a letter in the HKL columns of most lines', 'solve --hkl {badhkl} --ins {ins}', 4, 'bad.hkl:2: 14204 of 14205 lines are not HKLF 4'),
    ('solve: the first bad HKL line quoted verbatim', 'solve --hkl {badhkl} --ins {ins}', 4, 'the first: {badline}'),
    ('solve: --hkl without --ins', 'solve --hkl {badhkl}', 2, '--hkl needs --ins'),
    ('solve: --data file missing', 'solve --data {tmp}/nothere.cif', 3, '--data {tmp}/nothere.cif: no such file'),
    ('solve: --data of an unknown kind', 'solve --data {file}', 4, 'unknown kind of reflection file'),
    ('solve: --refine without --out', 'solve --cif {cif} --refine', 2, '--refine needs --out DIR'),
    ('solve: --refine without a formula (an MTZ has none)', 'solve --data {mtz} --refine --out {tmp}/refined', 4,
     'thpp: --refine needs the formula: give --formula (e.g. C12H10O2) or an .ins/.res with SFAC and UNIT'),
    ('solve: --data an MTZ without sigmas', 'solve --data {nosigma}', 4, 'nosigma.mtz: I without σ: intensities cannot be merged'),
    ('solve: --extend without --d-high', 'solve --cif {cif} --extend wilson', 2, '--extend needs --d-high'),
    ('solve: --max-runs not a number', 'solve --cif {cif} --max-runs abc', 2, "--max-runs: invalid int value: 'abc'"),
    ('solve: unknown extension method', 'solve --cif {cif} --extend flote --d-high 1.0', 2,
     "argument --extend: invalid choice: 'flote' (choose from wilson, model:WEIGHTS, set:WEIGHTS, float, bound, recycle, float+recycle"),
    ('extend: unknown extension method', 'extend --cif {cif} --d-high 1.0 --method flote --out {tmp}/x', 2, "argument --method: invalid choice: 'flote'"),
    ('export-hkl: CIF without atom sites', 'export-hkl --cif {noatoms} --out {tmp}/e', 4, 'no atom sites'),
    ('export-hkl: negative resolution', 'export-hkl --cif {cif} --d-min -1 --out {tmp}/e', 4, 'd_min=-1.0'),
    ('powder: negative count', 'powder --n -1 --out {tmp}/p.npz', 4, 'need at least 1 pattern'),
    ('molecular: SMILES file missing', 'molecular check --smiles {tmp}/nothere.smi', 3, '--smiles {tmp}/nothere.smi: no such file'),
    ('molecular: unknown space group', 'molecular pack --space-groups P999 --n 1', 4, "'P999' is not a space group"),
    ('figures: unknown figure', 'figures --only nosuch --out {tmp}/f', 2, "unknown figure(s) ['nosuch']"),
]


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    "Bad (and one good) inputs in a scratch folder: {placeholder: path}."
    from xrdphase.datasets import simulate
    tmp = tmp_path_factory.mktemp('bad')
    store = tmp/'store'
    simulate(store, 12, 'thesis', seed=1, chunk_size=4, workers=1, progress=False)
    d = dict(tmp=tmp, store=store, cif=THPP_CIF, ins=THPP_INS, empty=tmp/'empty', file=tmp/'plain.txt', noatoms=tmp/'noatoms.cif',
             badhkl=tmp/'bad.hkl', badjson=tmp/'bad.json', garbage=tmp/'garbage.pt')
    d['empty'].mkdir()
    d['file'].write_text('x')
    d['noatoms'].write_text('data_x\n_cell_length_a 5\n')
    good = Path(THPP_HKL).read_text().splitlines()
    d['badhkl'].write_text('\n'.join([good[0]] + [l[:4] + '   x' + l[8:] for l in good[1:-1]] + good[-1:]) + '\n')     # one bad line is left out; most bad is refused
    d['badline'] = repr(good[1][:4] + '   x' + good[1][8:])                 # as the message quotes it: every space kept
    from xrdphase.measured import read_measured
    d['mtz'] = tmp/'thpp.mtz'
    merged = read_measured(THPP_HKL, THPP_INS).merged()[0]
    merged.as_mtz_dataset('I').mtz_object().write(str(d['mtz']))                                        # data without a formula
    d['nosigma'] = tmp/'nosigma.mtz'
    merged.customized_copy(sigmas=None).as_mtz_dataset('I').mtz_object().write(str(d['nosigma']))       # intensities without σ
    d['badjson'].write_text('{"epochs": 2,,}')
    d['garbage'].write_bytes(bytes(range(256)) * 2)
    weights = (reference_dir() / 'weights' / 'd2_unet_pre.pt').read_bytes()
    d['truncated_pt'] = tmp/'truncated.pt'
    d['truncated_pt'].write_bytes(weights[:len(weights) // 2])          # an interrupted copy
    for name, how in (('altered', 'flip'), ('truncated', 'cut'), ('missing', 'rm')):
        shutil.copytree(store, tmp/name)
        c = tmp/name/'chunk-00001.npz'
        data = bytearray(c.read_bytes())
        if how == 'flip': data[len(data) // 2] ^= 1
        if how == 'rm': c.unlink()
        else: c.write_bytes(bytes(data if how == 'flip' else data[:100]))
        d[name] = tmp/name
    return d


def run(argv: str, inputs) -> tuple:
    "Run `xrdphase argv` in this process: (exit status, stdout, stderr)."
    args = argv.format(**inputs).split()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main(args)
        except SystemExit as e: rc = e.code
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize('what,argv,code,needle', CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_with_its_exit_status(inputs, what, argv, code, needle):
    rc, out, err = run(argv, inputs)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == code, (rc, err)
    assert len(lines) == 1 and lines[0].startswith('xrdphase'), err
    assert needle.format(**inputs) in lines[0], lines[0]
    assert 'Traceback' not in err


def test_enough_bad_inputs_across_the_commands():
    commands = {c[1].split()[0] for c in CASES}
    assert len(CASES) >= 15 and commands >= {'simulate', 'ingest-cif', 'verify', 'info', 'train', 'evaluate', 'solve', 'export-hkl',
                                             'powder', 'molecular', 'figures'}
    assert {c[2] for c in CASES} <= set(EXIT_CODES) and len({c[2] for c in CASES}) >= 5


def test_opt_out_reads_an_altered_store(inputs):
    rc, out, err = run('--no-chunk-check info {altered} --no-scan', inputs)
    assert rc == 0 and json.loads(out)['n_structures'] == 12 and os.environ.get('XRDPHASE_NO_CHUNK_CHECK') is None


def _console(*args, env=None):
    code = 'import sys; from xrdphase.cli import main; sys.exit(main())'
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_real_console_one_line_and_debug_traceback(inputs):
    r = _console('solve', '--cif', str(inputs['noatoms']))
    assert r.returncode == 4 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr
    for r in (_console('solve', '--cif', str(inputs['noatoms']), '--debug'), _console('solve', '--cif', str(inputs['noatoms']), env={'XRDPHASE_DEBUG': '1'})):
        assert r.returncode == 4 and 'Traceback (most recent call last)' in r.stderr and r.stderr.splitlines()[-1].startswith('xrdphase solve:')


def test_help_is_fast_and_imports_no_stage():
    "`xrdphase --help` in a fresh interpreter: best of 3 under 1 s; the parser for it imports no stage module."
    code = 'import sys; from xrdphase.cli import main; sys.exit(main(["--help"]))'
    best = min(_timed([sys.executable, '-c', code]) for _ in range(3))
    print(f'xrdphase --help: {best:.2f} s')
    assert best < 1.0, f'--help took {best:.2f} s'
    probe = ("import sys; from xrdphase.cli import build_parser; build_parser().format_help(); "
             "print(sorted(m for m in sys.modules if m.startswith('xrdphase')), 'torch' in sys.modules)")
    assert subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True).stdout.strip() == "['xrdphase', 'xrdphase.cli'] False"


def _timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


if __name__ == '__main__':
    import tempfile
    class _F:
        def mktemp(self, name): return Path(tempfile.mkdtemp(prefix=name))
    ins = inputs.__wrapped__(_F())
    print('| bad input | command | exit | stderr (one line) |\n|---|---|---|---|')
    for what, argv, code, needle in CASES:
        rc, out, err = run(argv, ins)
        line = err.strip().replace(str(ins['tmp']), 'TMP').replace(str(Path(THPP_CIF).parent), 'SMTBX')
        print(f"| {what} | `xrdphase {argv.split()[0]}` | {rc} | `{line[:230]}` |")
