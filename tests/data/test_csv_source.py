"""Reading the Kaggle fer2013.csv form: exact values, and one clear line for bad input."""

import logging

import numpy as np
import pytest

from fer_lightning.data.csv_source import read_fer_csv
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import csv_text, fer_rows


@pytest.mark.parametrize("name", ["fer2013.csv", "fer2013.csv.gz"])
def test_reads_pixels_labels_and_usage_exactly(write_csv, name):
    images, labels, usage = fer_rows(50, seed=1)
    faces = read_fer_csv(write_csv(csv_text(images, labels, usage), name))
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.labels, labels)
    np.testing.assert_array_equal(faces.usage, usage)
    assert faces.images.dtype == np.uint8 and faces.images.shape == (50, 48, 48)


def test_header_with_spaces_any_column_order_and_no_usage(write_csv):
    images, labels, usage = fer_rows(5)
    faces = read_fer_csv(
        write_csv(csv_text(images, labels, usage, columns=(" pixels", "emotion", " Usage")))
    )
    np.testing.assert_array_equal(faces.images, images)
    faces = read_fer_csv(write_csv(csv_text(images, labels, None, columns=("emotion", "pixels"))))
    assert not faces.has_usage and faces.has_labels


def test_unlabelled_pixels_only(write_csv):
    images, _, _ = fer_rows(3)
    faces = read_fer_csv(write_csv(csv_text(images, None, None, columns=("pixels",))))
    assert not faces.has_labels
    np.testing.assert_array_equal(faces.images, images)


def _bad(write_csv, mutate) -> str:
    images, labels, usage = fer_rows(6, seed=2)
    lines = csv_text(images, labels, usage).splitlines()
    lines = mutate(lines)
    with pytest.raises(DataError) as info:
        read_fer_csv(write_csv("\n".join(lines) + "\n"))
    message = str(info.value)
    assert "\n" not in message
    return message


def _replace_pixels(row: int, pixels: str):
    def mutate(lines):
        emotion, _, usage = lines[row].split(",")
        lines[row] = f"{emotion},{pixels},{usage}"
        return lines

    return mutate


def test_short_row_names_its_row(write_csv):
    message = _bad(write_csv, _replace_pixels(4, " ".join(["7"] * 2303)))
    assert "row 4 (line 5)" in message and "2303 pixel values" in message


def test_non_number_names_row_and_value(write_csv):
    message = _bad(write_csv, _replace_pixels(2, " ".join(["7"] * 100 + ["x1"] + ["7"] * 2203)))
    assert "row 2 " in message and "'x1'" in message and "pixel 101" in message


def test_pixel_out_of_range(write_csv):
    message = _bad(write_csv, _replace_pixels(3, " ".join(["7"] * 10 + ["256"] + ["7"] * 2293)))
    assert "row 3 " in message and "256" in message and "0..255" in message


@pytest.mark.parametrize("token", ["65636", "131172", "-3"])
def test_values_that_wrap_in_unsigned_parsing_are_still_caught(write_csv, token):
    # 65636 and 131172 wrap to 100 in 16 bits: the fast parse must not take them for 100.
    message = _bad(write_csv, _replace_pixels(3, " ".join(["7"] * 10 + [token] + ["7"] * 2293)))
    assert "row 3 " in message and token in message and "0..255" in message


def test_leading_zeros_and_extra_spaces_read_exactly(write_csv):
    images, labels, usage = fer_rows(4, seed=3)
    lines = csv_text(images, labels, usage).splitlines()
    emotion, pixels, use = lines[2].split(",")
    values = pixels.split(" ")
    lines[2] = f"{emotion}, {'  '.join(v.zfill(3) for v in values)} ,{use}"
    faces = read_fer_csv(write_csv("\n".join(lines) + "\n"))
    np.testing.assert_array_equal(faces.images, images)


def test_gzip_is_found_by_content_and_a_truncated_one_is_one_line(tmp_path, write_csv):
    images, labels, usage = fer_rows(20, seed=4)
    packed = write_csv(csv_text(images, labels, usage), "fer2013.csv.gz").read_bytes()
    named_csv = tmp_path / "really_gzip.csv"
    named_csv.write_bytes(packed)
    np.testing.assert_array_equal(read_fer_csv(named_csv).images, images)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="not a readable CSV file") as info:
        read_fer_csv(cut)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("label", ["7", "-1", "2.5", "happy", ""])
def test_bad_label(write_csv, label):
    def mutate(lines):
        lines[5] = label + lines[5][lines[5].index(",") :]
        return lines

    message = _bad(write_csv, mutate)
    assert "row 5 " in message and "emotion" in message


def test_unknown_usage(write_csv):
    def mutate(lines):
        lines[1] = lines[1].rsplit(",", 1)[0] + ",Validation"
        return lines

    message = _bad(write_csv, mutate)
    assert "row 1 " in message and "'Validation'" in message


def test_file_problems(tmp_path, write_csv):
    with pytest.raises(DataError, match="no such file"):
        read_fer_csv(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_fer_csv(tmp_path)
    with pytest.raises(DataError, match="empty"):
        read_fer_csv(write_csv("", "empty.csv"))
    with pytest.raises(DataError, match="header but no rows"):
        read_fer_csv(write_csv("emotion,pixels,Usage\n", "header.csv"))
    with pytest.raises(DataError, match="no 'pixels' column"):
        read_fer_csv(write_csv("emotion,image\n1,2\n", "columns.csv"))


def test_skip_drops_bad_rows_and_keeps_every_clean_one(write_csv, caplog):
    images, labels, usage = fer_rows(12, seed=8)
    lines = csv_text(images, labels, usage).splitlines()
    bad_rows = {
        2: "7," + " ".join(["1"] * 2300) + ",Training",  # short
        5: "x" + lines[5][1:],  # bad label
        9: lines[9].rsplit(",", 1)[0] + ",Nope",  # bad usage
        11: "3," + " ".join(["1"] * 2303 + ["999"]) + ",Training",
    }  # out of range
    for row, text in bad_rows.items():
        lines[row] = text
    path = write_csv("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        faces = read_fer_csv(path, on_bad_rows="skip")
    keep = [i for i in range(12) if i + 1 not in bad_rows]
    np.testing.assert_array_equal(faces.images, images[keep])
    np.testing.assert_array_equal(faces.labels, labels[keep])
    np.testing.assert_array_equal(faces.usage, usage[keep])
    assert "skipped 4 bad row(s) of 12 (rows 2, 5, 9, 11" in caplog.text
    with pytest.raises(DataError, match=r"row 2 \(line 3\)"):
        read_fer_csv(path)  # error mode stops at the first bad row


def test_icml_face_data_form(write_csv):
    """The challenge page's icml_face_data.csv: 'emotion', ' Usage', ' pixels'."""
    images, labels, usage = fer_rows(8, seed=9)
    text = csv_text(images, labels, usage, columns=("emotion", " Usage", " pixels"))
    faces = read_fer_csv(write_csv(text, "icml_face_data.csv"))
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.usage, usage)


def test_extra_columns_are_fine(write_csv):
    images, labels, usage = fer_rows(3)
    text = csv_text(images, labels, usage).splitlines()
    text = [line + (",note" if i == 0 else ",x") for i, line in enumerate(text)]
    assert len(read_fer_csv(write_csv("\n".join(text) + "\n"))) == 3


def test_rows_are_numbered_across_chunks(write_csv, monkeypatch):
    monkeypatch.setattr("fer_lightning.data.csv_source.CHUNK_ROWS", 4)
    images, labels, usage = fer_rows(11, seed=10)
    lines = csv_text(images, labels, usage).splitlines()
    lines[10] = "8" + lines[10][1:]
    path = write_csv("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 10 \(line 11\): emotion '8'"):
        read_fer_csv(path)
    faces = read_fer_csv(path, on_bad_rows="skip")
    np.testing.assert_array_equal(faces.images, np.delete(images, 9, axis=0))
