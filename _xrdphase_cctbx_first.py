"""Installed at the root of site-packages with xrdphase and imported at interpreter start by
xrdphase-cctbx-first.pth. Two native-library clashes between cctbx-base and other packages are avoided by
loading the right library first (cheap: two dlopens, no Python import of cctbx or torch). Never raises.

1. cctbx-base bundles a newer libstdc++ than the system's; if matplotlib, scipy, torch or RDKit loads the
   system one first, cctbx's compiled modules crash (segfault). Loading cctbx's copy first fixes any order.
2. cctbx-base's libomptbx exports stub OpenMP functions (omp_get_thread_num() == 0, ...) into the global
   symbol scope; torch's CPU kernels then bind to them and multi-threaded batched matmul returns wrong
   numbers. Loading torch's libgomp globally first makes torch (and cctbx) bind to the real OpenMP.

XRDPHASE_NO_PRELOAD=1 switches it off (used to test the guard in xrdphase/__init__.py)."""
import os, sys, glob, ctypes

def _find(pattern):
    for d in sys.path:
        hits = sorted(glob.glob(os.path.join(d or '.', pattern)))
        if hits: return hits[0]
    return None

def _preload():
    loaded = []
    gomp = _find(os.path.join('torch', 'lib', 'libgomp*.so*'))
    if gomp: ctypes.CDLL(gomp, mode=ctypes.RTLD_GLOBAL); loaded.append(gomp)
    stdcxx = _find(os.path.join('cctbx_base.libs', 'libstdc++*.so*'))
    if stdcxx: ctypes.CDLL(stdcxx, mode=ctypes.RTLD_GLOBAL); loaded.append(stdcxx)   # global: RDKit needs it too
    return loaded

try: LOADED = [] if os.environ.get('XRDPHASE_NO_PRELOAD') else _preload()
except Exception: LOADED = []
