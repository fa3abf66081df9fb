"Tests of xrdphase.evaluation: metric definitions against numpy, baselines, Wilson fit, CLI."
import xrdphase  # noqa: F401  (cctbx's C++ runtime first)
import argparse, contextlib, io, json
import numpy as np
import pytest
import torch
from xrdphase.diffraction import wilson_estimate
from xrdphase.models import postprocess, build_model, model_config, save_weights, wilson_fill
from xrdphase.evaluation import Metrics, zero_fill, evaluate, evaluate_data, add_cli, BASELINES


@pytest.fixture(scope='module')
def b1(batch_of): return batch_of('d1', (5, 6), e_method='model')


def test_metrics_match_numpy_and_use_unnormalised_F(b1):
    torch.manual_seed(0)
    post = postprocess(b1['target'] * (1 + 0.5 * torch.rand(b1['target'].shape)), b1)
    r = Metrics('d1', n_shells=3).update(post, b1).result()
    s = b1['scale'].numpy()[:, None, None, None].astype(float)
    T, P, N = b1['target'].numpy() * s, post.numpy() * s, b1['new'].numpy()
    assert np.isclose(r['R_full'], np.mean([np.abs(T[i] - P[i]).sum() / T[i].sum() for i in range(2)]))
    assert np.isclose(r['R_new'], np.mean([np.abs(T[i] - P[i])[N[i]].sum() / T[i][N[i]].sum() for i in range(2)]))
    assert np.isclose(r['R_full_pooled'], np.abs(T - P).sum() / T.sum()) and np.isclose(r['MSE'], ((T - P)[N] ** 2).mean(), rtol=1e-5)
    assert sum(sh['n'] for sh in r['shells']) == N.sum() == r['n_new'] and r['shells'][0]['d_max'] == 1.5 and r['shells'][-1]['d_min'] == 0.8
    # pooled R changes with the scales, the per-structure mean does not: metrics really use the un-normalised values
    b = dict(b1, scale=b1['scale'] * torch.tensor([1.0, 10.0]))
    r2 = Metrics('d1').update(post, b).result()
    assert np.isclose(r2['R_new'], r['R_new']) and not np.isclose(r2['R_new_pooled'], r['R_new_pooled'])


def test_zero_fill_and_perfect(b1):
    r = Metrics('d1').update(postprocess(zero_fill(b1), b1), b1).result()
    T = b1['target'].numpy()
    N = b1['new'].numpy()
    assert r['R_new'] == 1.0 and np.isclose(r['R_full'], np.mean([T[i][N[i]].sum() / T[i].sum() for i in range(2)]))
    p = Metrics('d1').update(postprocess(b1['target'], b1), b1).result()
    assert p['R_full'] == 0 and p['R_new'] == 0 and p['MSE'] == 0


def test_wilson_recovers_known_falloff(b1):
    one = {k: v[:1].repeat(300, *[1] * (v.ndim - 1)) for k, v in b1.items()}
    d = one['d'].double()
    s2 = torch.where(d > 0, 0.25 / d.clamp_min(1e-6) ** 2, torch.zeros_like(d))
    mean_i = one['epsilon'].double() * torch.exp(0.5 - 2 * 4.0 * s2)
    g = torch.Generator().manual_seed(1)
    cen = one['centric'].bool()
    f = torch.where(cen, torch.randn(d.shape, generator=g, dtype=torch.float64).abs(),
                    torch.sqrt(-torch.log(torch.rand(d.shape, generator=g, dtype=torch.float64)))) * mean_i.sqrt()   # Rayleigh / half-normal
    one['input'] = torch.where(one['known'], f, torch.zeros_like(f)).float()
    ins = d[0] > 0
    fits = [wilson_estimate(d[j][ins], one['input'][j][ins].double(), one['epsilon'][j][ins], cen[j][ins], one['known'][j][ins], d_max_fit=20)[1]
            for j in range(300)]
    a, b = np.mean([f['a'] for f in fits]), np.mean([f['b'] for f in fits])
    assert abs(a - 0.5) < 0.05 and abs(-b / 2 - 4.0) < 0.25
    w = wilson_fill(one, d_max_fit=20).double()
    for m in (one['new'] & cen, one['new'] & ~cen):
        assert abs(float(w[m].sum() / f[m].sum()) - 1) < 0.03


def test_wilson_beats_zero_on_real_structures(b1):
    res = evaluate(BASELINES, [b1], 'd1')
    assert res['wilson']['R_new'] < 0.8 < res['zero']['R_new'] == 1.0
    assert res['wilson']['R_full'] < res['zero']['R_full']


def test_cli_evaluate(tmp_path):
    from xrdphase.datasets import simulate
    simulate(tmp_path / 'st', 12, 'thesis', seed=9, chunk_size=12, workers=1, progress=False)
    torch.manual_seed(0)
    save_weights(build_model(model_config('fft_unet', 'tiny', 'd3')), tmp_path / 'w.pt')
    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest='cmd'))
    a = ap.parse_args(['evaluate', '--weights', str(tmp_path / 'w.pt'), '--data', f'{tmp_path}/st', '--task', 'd3', '--quiet', '--shells', '3'])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): assert a.func(a) == 0
    out = json.loads(buf.getvalue())
    assert out['n'] == 12 and set(out['baselines']) == {'zero', 'wilson'} and len(out['models']) == 1
    m = next(iter(out['models'].values()))
    assert {'R_full', 'R_new', 'R_full_pooled', 'R_new_pooled', 'MSE', 'MSE_norm', 'shells'} <= set(m) and len(m['shells']) == 3
    with pytest.raises(ValueError, match='cannot evaluate'):
        evaluate_data([tmp_path / 'w.pt'], [f'{tmp_path}/st'], 'd1')
    with pytest.raises(FileNotFoundError): evaluate_data((), [f'{tmp_path}/nope'], 'd2')
