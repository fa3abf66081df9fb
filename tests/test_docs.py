"""Results readable without running: `xrdphase docs` renders every notebook (navigation in pipeline order, figures inline,
an index with a gallery), checked in headless Chromium; stored outputs carry a stamp of the code that made them, it survives
nbdev_clean, and the check fails when the code changes."""
import xrdphase  # noqa: F401
import base64, json, re, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from xrdphase.core import PROJECT_ROOT
from xrdphase.docs import STAMP, build_docs, check_outputs, freshness, notebooks, read_nb, settings

DEMO = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
    dict(cell_type='markdown', id='m1', metadata={}, source='# A demo chapter\n\n> A line and a number.'),
    dict(cell_type='code', id='c1', metadata={}, execution_count=None, outputs=[],
         source="import xrdphase\nfrom xrdphase.core import derive_seed\nimport matplotlib.pyplot as plt\n"
                "fig, ax = plt.subplots(figsize=(5, 3))\nax.plot([0, 1, 2, 3], [3, 0, 2, 1], lw=6)\nprint(derive_seed(1, 2))")])


def chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        if path := shutil.which(name): return path
    return None


def screenshot(html: Path, png: Path, width=1280, height=1400) -> np.ndarray:
    "Render `html` in headless Chromium and return the screenshot as an RGB array (skips the test, saying why, without Chromium)."
    exe = chromium()
    if exe is None: pytest.skip('no Chromium on this machine (Debian: apt-get install chromium): the browser check did not run')
    subprocess.run([exe, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', f'--window-size={width},{height}',
                    f'--screenshot={png}', html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    import matplotlib.image as mpimg
    return (mpimg.imread(png)[..., :3] * 255).round().astype(int)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    "A scratch project folder with the demo notebook executed and committed, and copies of three real notebooks (no outputs)."
    tmp = tmp_path_factory.mktemp('docs')
    (tmp / 'nbs').mkdir()
    (tmp / 'nbs' / '01_demo.ipynb').write_text(json.dumps(DEMO))
    for name in ('00_core', '08b_files', '11_cli'):                # the committed notebooks, their outputs and stamps taken off
        nb = json.loads((PROJECT_ROOT / 'nbs' / f'{name}.ipynb').read_text())
        nb['metadata'].pop(STAMP, None)
        for c in nb['cells']:
            if c['cell_type'] == 'code': c.update(outputs=[], execution_count=None)
        (tmp / 'nbs' / f'{name}.ipynb').write_text(json.dumps(nb))
    res = build_docs(tmp / '_docs', commit_outputs=True, only=['01_demo'], nbs=tmp / 'nbs', progress=False)
    return tmp, res


def test_committed_notebook_outputs_come_from_the_current_code():
    "Fails on stale or unstamped outputs in nbs/; once settings.ini says docs_require_outputs = True, also on a notebook without outputs."
    bad = check_outputs()
    assert not bad, '\n'.join(f'nbs/{s}.ipynb: {st}: {why}' for s, st, why in bad)


def test_build_executes_commits_and_renders(demo):
    tmp, res = demo
    assert res['executed'] == 1 and not res['failed'] and res['figures'] == 1 and res['pages'] == 5
    assert res['statuses'] == {'00_core': 'no outputs', '01_demo': 'fresh', '08b_files': 'no outputs', '11_cli': 'no outputs'}
    nb = read_nb(tmp / 'nbs' / '01_demo.ipynb')
    assert nb['metadata'][STAMP]['modules'].keys() == {'__init__', 'core'} and freshness(tmp / 'nbs' / '01_demo.ipynb')[0] == 'fresh'
    pages = {p.stem: p.read_text() for p in (tmp / '_docs').glob('*.html')}
    assert set(pages) == {'index', '00_core', '01_demo', '08b_files', '11_cli'}
    for stem, html in pages.items():                         # every page: the bar in pipeline order
        links = [l for l in ('00_core.html', '01_demo.html', '08b_files.html', '11_cli.html')]
        assert [html.index(f'href="{l}"') for l in links] == sorted(html.index(f'href="{l}"') for l in links), stem
    assert 'href="01_demo.html#fig-0"' in pages['index'] and '<img id="fig-0"' in pages['01_demo'] and '#| export' not in pages['00_core']


def test_stamp_survives_nbdev_clean_and_names_what_changed(demo, tmp_path):
    tmp, _ = demo
    nb_path = tmp / 'nbs' / '01_demo.ipynb'
    before = nb_path.read_text()
    r = subprocess.run(['nbdev_clean', '--fname', str(nb_path)], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert nb_path.read_text() == before and freshness(nb_path) == ('fresh', '')     # clean changes nothing; the stamp stays
    root = tmp_path / 'root'                                  # the same project, then changed
    shutil.copytree(PROJECT_ROOT / 'xrdphase', root / 'xrdphase', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(PROJECT_ROOT / 'reference', root / 'reference')
    assert freshness(nb_path, root) == ('fresh', '')
    (root / 'xrdphase' / 'core.py').write_text((root / 'xrdphase' / 'core.py').read_text() + '\n# changed\n')
    (root / 'xrdphase' / 'powder.py').write_text('# a module the notebook does not reach\n')
    (root / 'reference' / 'new.json').write_text('{}')
    status, why = freshness(nb_path, root)
    assert status == 'stale' and 'xrdphase/core.py' in why and 'reference' in why and 'powder' not in why, why
    nb = read_nb(nb_path)
    del nb['metadata'][STAMP]
    nb_path.write_text(json.dumps(nb))
    assert freshness(nb_path)[0] == 'unstamped' and [s for s, *_ in check_outputs(tmp / 'nbs', require=False)] == ['01_demo']
    nb_path.write_text(before)


def test_every_notebook_renders():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        res = build_docs(d, progress=False, thumbnails=False)
        names = ['readme' if p.stem == 'index' else p.stem for p in notebooks(PROJECT_ROOT / 'nbs')]    # index.ipynb (README) -> readme.html
        assert res['pages'] == len(names) + 1 and sorted(p.stem for p in Path(d).glob('*.html')) == sorted(names + ['index'])
        assert 'Set up and run' in (Path(d) / 'readme.html').read_text()
        index = (Path(d) / 'index.html').read_text()
        assert [index.index(f'href="{n}.html"') for n in names] == sorted(index.index(f'href="{n}.html"') for n in names)
        for stem in ('10a_direct_methods', '10b_teaching_3d'):                     # the plotly figures are in the gallery too
            assert f'href="{stem}.html#fig-0"' in index and 'class="plotly-fig"' in (Path(d) / f'{stem}.html').read_text(), stem
        pages = {p.stem: p.read_text() for p in Path(d).glob('*.html')}
        remote = {s: sorted(set(re.findall(r'src="(https?://[^"]+)', h))) for s, h in pages.items()}
        assert not any(remote.values()), {s: r for s, r in remote.items() if r}           # nothing fetched from the network (no CDN)
        assert (Path(d) / 'plotly.min.js').stat().st_size > 1e6 and all(h.count('src="plotly.min.js"') <= 1 for h in pages.values())


def test_rendered_docs_in_a_real_browser(demo):
    "Headless Chromium: the navigation bar is drawn in its colour, the gallery shows the demo figure's thick blue line, the page its cells."
    tmp, _ = demo
    shot = screenshot(tmp / '_docs' / 'index.html', tmp / 'index.png')
    assert shot.shape == (1400, 1280, 3)
    assert np.abs(shot[8, 8] - [31, 58, 95]).max() <= 3                        # nav background #1f3a5f
    blue = (np.abs(shot - [31, 119, 180]).max(-1) <= 30)                        # matplotlib's C0: the demo line in the gallery thumbnail
    assert blue.sum() > 200, blue.sum()
    page = screenshot(tmp / '_docs' / '01_demo.html', tmp / 'page.png')
    assert (np.abs(page - [31, 119, 180]).max(-1) <= 30).sum() > 1000             # the figure inline, full size
    assert (np.abs(page - [245, 246, 248]).max(-1) <= 2).sum() > 5000            # a code cell's background


def test_docs_check_command():
    from xrdphase.cli import main
    assert main(['docs', '--check']) == (1 if check_outputs() else 0)
    assert settings().get('allowed_metadata_keys', '').split() == [STAMP]


PLOTLY_DEMO = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
    dict(cell_type='markdown', id='p1', metadata={}, source='# Plotly and maths\n\n> A figure drawn by the local plotly.js and a formula.\n\n'
                                                            '$$F(\\mathbf{h}) = \\sum_j f_j \\exp(2\\pi i\\, \\mathbf{h}\\cdot\\mathbf{x}_j)$$'),
    dict(cell_type='code', id='p2', metadata={}, execution_count=None, source='fig.show()', outputs=[dict(output_type='display_data', metadata={}, data={
        'application/vnd.plotly.v1+json': {'data': [{'type': 'scatter', 'x': [0, 1, 2, 3], 'y': [3, 0, 2, 1], 'line': {'width': 14, 'color': '#ff7f0e'}}],
                                           'layout': {'width': 1600, 'height': 420}}})])])


def test_plotly_and_maths_offline_in_a_real_browser(tmp_path):
    "A plotly figure drawn in Chromium by the site's one local plotly.js, as wide as the page; maths as SVG drawn at build time (no MathJax, no CDN)."
    (tmp_path / 'nbs').mkdir()
    (tmp_path / 'nbs' / '01_plotly.ipynb').write_text(json.dumps(PLOTLY_DEMO))
    res = build_docs(tmp_path / '_docs', nbs=tmp_path / 'nbs', progress=False, thumbnails=chromium() is not None)
    html = (tmp_path / '_docs' / '01_plotly.html').read_text()
    assert res['figures'] == 1 and 'src="plotly.min.js"' in html and 'https://' not in html and 'mathjax' not in html.lower()
    svg = base64.b64decode(re.search(r'class="math"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', html).group(1)).decode()
    assert svg.count('<path') > 5 and '$' not in re.sub(r'<[^>]+>', '', html.split('<main>')[1].split('<script')[0])
    shot = screenshot(tmp_path / '_docs' / '01_plotly.html', tmp_path / 'plotly.png')
    orange = np.abs(shot - [255, 127, 14]).max(-1) <= 40                       # the thick line, drawn by plotly.js from the local file
    assert orange.sum() > 3000, orange.sum()
    dom = subprocess.run([chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--window-size=1280,1400', '--virtual-time-budget=10000',
                          '--dump-dom', (tmp_path / '_docs' / '01_plotly.html').as_uri()], capture_output=True, text=True, timeout=120).stdout
    widths = [int(w) for w in re.findall(r'<svg class="main-svg"[^>]*width="(\d+)"', dom)]
    assert widths and max(widths) <= 1100, widths                                  # 1,600 px asked, fitted into the page (main is 1,100 px)
    assert (tmp_path / '_docs' / 'figures' / '01_plotly-0.png').exists()           # the gallery's thumbnail (Chromium drew it)
