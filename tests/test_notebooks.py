"""The shape of the exported code, cell by cell: no export cell over `MAX_LINES` lines (one idea per cell), no two
statements chained on one line with `;`. `python tests/test_notebooks.py` lists every export cell over the limit and
every chained line, allowed or not."""
import ast, json, re
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent / 'nbs'
MAX_LINES = 60

# Named exceptions to the two rules (none now; a notebook added here must say why, and the test below fails once it is no longer needed).
LONG_CELLS_ALLOWED = {}
CHAINED_ALLOWED = {}


def export_cells(nb_path: Path) -> list:
    "(cell id, source) of the cells of notebook `nb_path` that nbdev exports (`#| export`, `exporti`, `exports`)."
    cells = json.loads(Path(nb_path).read_text())['cells']
    out = []
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and any(re.match(r'#\|\s*export[is]?\s*$', l) for l in src.splitlines() if l.startswith('#|')):
            out.append((c.get('id', '?'), src))
    return out


def long_cells(nb_path: Path, limit: int = MAX_LINES) -> list:
    "'notebook cell id: n lines (first definition)' for each export cell of `nb_path` longer than `limit` lines."
    out = []
    for cid, src in export_cells(nb_path):
        lines = src.splitlines()
        if len(lines) > limit:
            first = next((l for l in lines if re.match(r'(async def|def|class) ', l)), lines[-1])
            out.append(f"{Path(nb_path).stem} {cid}: {len(lines)} lines ({first.split('(')[0].split(':')[0]})")
    return out


def chained_lines(nb_path: Path) -> list:
    "'notebook cell id line k: text' for each line of an export cell of `nb_path` holding two statements (`a; b`)."
    out = []
    for cid, src in export_cells(nb_path):
        code = '\n'.join('' if l.startswith('#|') else l for l in src.splitlines())
        lines = code.splitlines()
        for node in ast.walk(ast.parse(code, f'{Path(nb_path).name} cell {cid}')):
            for body in (getattr(node, f, None) for f in ('body', 'orelse', 'finalbody', 'handlers')):
                if not isinstance(body, list): continue
                for a, b in zip(body, body[1:]):
                    if b.lineno == a.end_lineno: out.append(f"{Path(nb_path).stem} {cid} line {b.lineno}: {lines[b.lineno - 1].strip()}")
    return sorted(set(out))


def notebooks() -> list: return sorted(NBS.glob('*.ipynb'))


def test_no_export_cell_is_longer_than_the_limit():
    bad = [x for nb in notebooks() if nb.stem not in LONG_CELLS_ALLOWED for x in long_cells(nb)]
    assert not bad, f'export cells over {MAX_LINES} lines (split them at their definitions):\n' + '\n'.join(bad)


def test_no_export_cell_chains_statements():
    bad = [x for nb in notebooks() if nb.stem not in CHAINED_ALLOWED for x in chained_lines(nb)]
    assert not bad, "two statements on one line (write one per line):\n" + '\n'.join(bad)


def test_the_allow_lists_name_notebooks_that_still_need_them():
    "An exception that is no longer needed is removed, so the lists only shrink."
    stale = [f'LONG_CELLS_ALLOWED: {n}' for n in LONG_CELLS_ALLOWED if not long_cells(NBS / f'{n}.ipynb')]
    stale += [f'CHAINED_ALLOWED: {n}' for n in CHAINED_ALLOWED if not chained_lines(NBS / f'{n}.ipynb')]
    assert not stale, 'allow-list entries no longer needed (remove them):\n' + '\n'.join(stale)


def _notebook(path: Path, *sources: str) -> Path:
    cells = [dict(cell_type='code', id=f'c{k}', metadata={}, outputs=[], execution_count=None, source=s) for k, s in enumerate(sources)]
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    return path


def test_the_checks_see_a_long_cell_and_a_chained_line(tmp_path):
    body = '\n'.join(f'    x{k} = {k}' for k in range(MAX_LINES - 2))
    nb = _notebook(tmp_path / 'x.ipynb', f'#| export\ndef f():\n{body}', f'#| export\ndef g():\n{body}\n    y = 1',
                   '#| export\ndef h(a):\n    if a: b = 1; c = 2\n    try: d = 1\n    except ValueError: pass\n    return a',
                   'x = 1; y = 2')                                  # not exported: not checked
    assert long_cells(nb) == ['x c1: 61 lines (def g)']
    assert chained_lines(nb) == ['x c2 line 3: if a: b = 1; c = 2']


if __name__ == '__main__':
    for nb in notebooks():
        for x in long_cells(nb): print(x, '(allowed: ' + LONG_CELLS_ALLOWED[nb.stem] + ')' if nb.stem in LONG_CELLS_ALLOWED else '')
    for nb in notebooks():
        for x in chained_lines(nb): print(x, '(allowed: ' + CHAINED_ALLOWED[nb.stem] + ')' if nb.stem in CHAINED_ALLOWED else '')
