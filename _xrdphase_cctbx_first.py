"""Installed at the root of site-packages with xrdphase and imported at interpreter start by
xrdphase-cctbx-first.pth. cctbx-base bundles a newer libstdc++ than the system's; if matplotlib, scipy,
torch or RDKit loads the system one first, cctbx's compiled modules crash. Loading cctbx's copy first
(cheap: one dlopen, no Python import of cctbx) makes every import order safe. Never raises.
XRDPHASE_NO_PRELOAD=1 switches it off (used to test the guard in xrdphase/__init__.py)."""
import os, sys, glob, ctypes

def _preload():
    for d in sys.path:
        libs = sorted(glob.glob(os.path.join(d or '.', 'cctbx_base.libs', 'libstdc++*.so*')))
        if libs:
            ctypes.CDLL(libs[0])
            return libs[0]
    return None

try: LOADED = None if os.environ.get('XRDPHASE_NO_PRELOAD') else _preload()
except Exception: LOADED = None
