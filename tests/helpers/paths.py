"""Where the checkout and the shared real data are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_CSV = SHARED_DATA / "fer2013" / "fer2013_dev.csv.gz"
