"""benchmarks/devdata.py carries the data to the GPU machine: the round trip must be exact."""

import importlib.util

import numpy as np

from fer_lightning.data.csv_source import read_fer_csv
from tests.helpers.fer_csv import csv_text, fer_rows
from tests.helpers.paths import ROOT

SCRIPT = ROOT / "benchmarks" / "devdata.py"


def devdata():
    """The script as a module, run in this process: a subprocess would spend most of the test
    importing torch again."""
    spec = importlib.util.spec_from_file_location("devdata", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_then_unpack_gives_the_same_faces(write_csv, tmp_path):
    images, labels, usage = fer_rows(40, seed=5)
    images[0] = 0  # the extremes survive the mod-256 differences
    images[1] = 255
    source = write_csv(csv_text(images, labels, usage), "fer2013.csv.gz")
    packed, back = tmp_path / "carry" / "fer.npz", tmp_path / "back.csv"
    script = devdata()
    for action, a, b in (("pack", source, packed), ("unpack", packed, back)):
        script.main([action, str(a), str(b)])
    faces = read_fer_csv(back)
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.labels, labels)
    np.testing.assert_array_equal(faces.usage, usage)
