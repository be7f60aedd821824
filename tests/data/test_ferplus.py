"""FER+ votes: reading fer2013new.csv, the paper's four targets, label drawing, the shared copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fer_lightning.data.ferplus import (
    DROP_REASONS,
    FERPLUS_EMOTIONS,
    SCHEMES,
    TO_FER2013,
    VOTE_COLUMNS,
    FerPlusVotes,
    check_aligned,
    clean_votes,
    draw_labels,
    drop_reasons,
    majority_labels,
    read_ferplus_votes,
    targets,
)
from fer_lightning.data.labels import USAGES
from fer_lightning.errors import DataError
from tests.helpers.paths import SHARED_CSV

SHARED_FERPLUS = SHARED_CSV.parents[1] / "ferplus" / "fer2013new_dev.csv"
HEADER = "Usage,Image name," + ",".join(VOTE_COLUMNS)

N, H, SU, SA, AN, DI, FE, CO, UNK, NF = range(10)  # the ten vote columns


def votes_of(**counts: int) -> list[int]:
    """One face's ten counts from keyword counts, e.g. votes_of(neutral=6, happiness=3)."""
    row = [0] * len(VOTE_COLUMNS)
    for name, count in counts.items():
        row[VOTE_COLUMNS.index(name)] = count
    return row


def one(votes: list[int], scheme: str, clean: bool = True) -> np.ndarray | None:
    """The target of one face, or None if the scheme drops it."""
    target, keep = targets(np.array([votes], dtype=np.uint8), scheme, clean)
    return target[0] if keep[0] else None


def dist(**weights: float) -> np.ndarray:
    out = np.zeros(len(FERPLUS_EMOTIONS))
    for name, w in weights.items():
        out[FERPLUS_EMOTIONS.index(name)] = w
    return out


# ---------------------------------------------------------------------------------------------
# An independent oracle: FER+'s rules for one face as a plain loop (src/ferplus.py's
# _process_data and load_folders, restated), to check the vectorized code on many faces.


def oracle(votes: list[int], scheme: str, clean: bool = True) -> np.ndarray | None:
    c = [v if (v >= 2 or not clean) else 0 for v in votes]
    total = sum(c)
    picked = [0.0] * 10
    if scheme == "majority":
        best = c.index(max(c))
        if 2 * c[best] > total:
            picked[best] = c[best]
    elif scheme in ("probability", "crossentropy"):
        left, gathered, emotions, stopped = list(c), 0, 0, False
        while 4 * gathered < 3 * total and emotions < 3 and not stopped:
            top = max(left)
            for i in range(10):
                if left[i] != top:
                    continue
                if i >= UNK:  # unknown / NF reached: stop; it stays only if first
                    stopped = True
                    if not any(picked):
                        picked[i] = top
                        emotions += 1
                    break
                picked[i], left[i] = top, 0
                gathered += top
                emotions += 1
        if 2 * sum(picked) <= total or emotions > 3:
            return None
    else:
        picked = [x if 10 * x >= 3 * total else 0 for x in c]
        if 2 * sum(picked) <= total:
            return None
    if sum(picked) == 0 or picked.index(max(picked)) >= UNK:
        return None
    emotion = np.array(picked[:UNK], dtype=np.float64)
    if scheme == "multilabel":
        emotion = (emotion > 0).astype(np.float64)
    return emotion / emotion.sum()


def random_votes(n: int, seed: int) -> np.ndarray:
    """Ten votes per face from peaked random distributions: many ties, strays and NF/unknown."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(10, 0.4), size=n)
    return np.stack([rng.multinomial(10, row) for row in p]).astype(np.uint8)


@pytest.mark.parametrize("clean", [True, False])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_vectorized_targets_match_the_rules_face_by_face(scheme, clean):
    votes = random_votes(3000, seed=SCHEMES.index(scheme) + 10 * clean)
    target, keep = targets(votes, scheme, clean)
    for i, row in enumerate(votes.tolist()):
        expected = oracle(row, scheme, clean)
        assert keep[i] == (expected is not None), (row, scheme)
        if expected is not None:
            np.testing.assert_allclose(target[i], expected, atol=1e-6, err_msg=str(row))
    assert 0.05 < keep.mean() < 0.98  # both branches were exercised


@pytest.mark.parametrize("scheme", SCHEMES)
def test_targets_are_distributions_over_the_eight_emotions(scheme):
    target, keep = targets(random_votes(2000, seed=5), scheme)
    assert target.dtype == np.float32 and target.shape == (2000, 8)
    assert keep.dtype == bool and keep.shape == (2000,)
    np.testing.assert_allclose(target[keep].sum(axis=1), 1.0, atol=1e-6)
    assert (target >= 0).all() and (target[~keep] == 0).all()


def test_probability_and_crossentropy_share_one_target():
    votes = random_votes(500, seed=6)
    a, keep_a = targets(votes, "probability")
    b, keep_b = targets(votes, "crossentropy")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(keep_a, keep_b)


def test_clean_votes_drops_single_votes_in_every_column():
    votes = np.array([[6, 3, 1, 0, 0, 0, 0, 0, 1, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(clean_votes(votes), [[6, 3, 0, 0, 0, 0, 0, 0, 0, 0]])
    assert clean_votes(votes).dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# Hand-written faces: what FER+'s rules give, worked out by hand.

MAJORITY = [
    (votes_of(neutral=6, happiness=3, unknown=1), dist(neutral=1)),
    # 5 of 10 is no majority, but the stray vote goes first: 5 of 9 is.
    (votes_of(neutral=5, happiness=4, fear=1), dist(neutral=1)),
    (votes_of(neutral=5, happiness=5), None),  # a tie: no majority
    (votes_of(contempt=6, anger=4), dist(contempt=1)),
    (votes_of(NF=7, neutral=3), None),  # not a face
    (votes_of(unknown=6, neutral=2, sadness=2), None),  # unknown
    (votes_of(neutral=4, happiness=3, sadness=3), None),  # 4 of 10: plurality only
    ([1] * 10, None),  # every vote a stray: nothing left
]

PROBABILITY = [
    # Top passes until 75% of the (cleaned) votes: 6 of 9, then 3 more.
    (votes_of(neutral=6, happiness=3, unknown=1), dist(neutral=6 / 9, happiness=3 / 9)),
    # 8 of 10 already passes 75%: the 2 votes for sadness are left out.
    (votes_of(neutral=8, sadness=2), dist(neutral=1)),
    (votes_of(neutral=4, happiness=3, sadness=3), dist(neutral=0.4, happiness=0.3, sadness=0.3)),
    (votes_of(neutral=5, happiness=5), dist(neutral=0.5, happiness=0.5)),  # a tie is one pass
    (votes_of(neutral=4, happiness=2, sadness=2, anger=2), None),  # four emotions: too many
    (votes_of(neutral=3, happiness=3, sadness=2, anger=2), None),  # the same, in two passes
    # Unknown tied with an emotion: the emotion is taken, unknown stops the loop, and 4 of 10
    # is not more than half.
    (votes_of(neutral=4, unknown=4, sadness=2), None),
    (votes_of(neutral=5, NF=5), None),  # NF tied: 5 of 10
    # Unknown second: it stops the loop after neutral, whose 6 of 10 is enough.
    (votes_of(neutral=6, unknown=4), dist(neutral=1)),
    (votes_of(happiness=6, unknown=2, NF=2), dist(happiness=1)),
    (votes_of(neutral=5, unknown=3, sadness=2), None),  # 5 of 10 when unknown stops it
    (votes_of(unknown=4, neutral=3, sadness=3), None),  # unknown on top
    (votes_of(NF=10), None),
]

MULTILABEL = [
    (votes_of(neutral=6, happiness=3, unknown=1), dist(neutral=0.5, happiness=0.5)),
    (
        votes_of(neutral=4, happiness=3, sadness=3),
        dist(neutral=1 / 3, happiness=1 / 3, sadness=1 / 3),
    ),
    (votes_of(neutral=3, happiness=3, sadness=2, anger=2), dist(neutral=0.5, happiness=0.5)),
    (votes_of(neutral=4, happiness=2, sadness=2, anger=2), None),  # 4 of 10 chosen: too few
    # Unknown reaches 30% too; tied with an emotion, the emotion wins (first of equal maxima)
    # and unknown is cut from the set.
    (votes_of(neutral=4, unknown=4, sadness=2), dist(neutral=1)),
    (votes_of(unknown=5, neutral=4, sadness=1), None),  # unknown on top
    (votes_of(neutral=7, sadness=2, NF=1), dist(neutral=1)),  # 2 of 9 is under 30%
]


@pytest.mark.parametrize(
    ("scheme", "votes", "expected"),
    [("majority", v, e) for v, e in MAJORITY]
    + [("probability", v, e) for v, e in PROBABILITY]
    + [("crossentropy", v, e) for v, e in PROBABILITY]
    + [("multilabel", v, e) for v, e in MULTILABEL],
)
def test_hand_written_faces(scheme, votes, expected):
    got = one(votes, scheme)
    if expected is None:
        assert got is None, got
    else:
        assert got is not None
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert (got is None) == (oracle(votes, scheme) is None)


def test_without_cleaning_a_stray_vote_counts():
    face = votes_of(neutral=5, happiness=4, fear=1)
    assert one(face, "majority", clean=False) is None  # 5 of 10 is no majority
    np.testing.assert_allclose(
        one(face, "multilabel", clean=False), dist(neutral=0.5, happiness=0.5)
    )


def test_majority_labels_are_the_evaluation_labels():
    votes = np.array([v for v, _ in MAJORITY], dtype=np.uint8)
    labels, keep = majority_labels(votes)
    assert labels.dtype == np.int64
    expected = [FERPLUS_EMOTIONS.index(n) for n in ("neutral", "neutral")] + [-1]
    expected += [FERPLUS_EMOTIONS.index("contempt")] + [-1] * 4
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(keep, labels >= 0)


def test_drop_reasons_count_each_dropped_face_once():
    votes = np.array(
        [
            votes_of(NF=7, neutral=3),
            votes_of(unknown=6, neutral=4),
            votes_of(unknown=4, neutral=4, sadness=2),
            [1] * 10,
            votes_of(neutral=4, happiness=3, sadness=3),
            votes_of(neutral=9, happiness=1),
            [0] * 10,
        ],
        dtype=np.uint8,
    )
    _, keep = targets(votes, "majority")
    reasons = drop_reasons(votes, keep)
    assert list(reasons) == list(DROP_REASONS)
    assert reasons == {
        "not a face (NF majority)": 1,
        "unknown majority": 1,
        "unknown or NF among the top votes": 1,
        "no votes at all": 1,
        "no votes left after outlier removal": 1,
        "no clear majority": 1,
    }
    assert sum(reasons.values()) == int((~keep).sum()) == 6


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="majority, probability, crossentropy, multilabel"):
        targets(random_votes(3, seed=0), "multi_target")


# ---------------------------------------------------------------------------------------------
# Probabilistic label drawing


def test_drawn_labels_follow_the_votes():
    face = votes_of(neutral=6, happiness=3, unknown=1)  # the stray unknown vote goes
    target, _ = targets(np.array([face], dtype=np.uint8), "probability")
    draws = 20_000
    labels = draw_labels(
        torch.from_numpy(target).repeat(draws, 1), torch.Generator().manual_seed(0)
    )
    assert labels.dtype == torch.int64 and labels.shape == (draws,)
    freq = torch.bincount(labels, minlength=8).double() / draws
    torch.testing.assert_close(freq, torch.from_numpy(target[0]).double(), atol=0.015, rtol=0)
    assert freq[FERPLUS_EMOTIONS.index("neutral")] > 0.63  # 6 of 9, not 6 of 10


def test_one_draw_per_epoch_varies_and_is_seeded():
    target, keep = targets(random_votes(400, seed=7), "probability")
    t = torch.from_numpy(target)
    generator = torch.Generator().manual_seed(1)
    epochs = torch.stack([draw_labels(t, generator) for _ in range(200)])
    again = torch.Generator().manual_seed(1)
    torch.testing.assert_close(epochs[0], draw_labels(t, again))  # seeded: reproducible
    assert (epochs[:, ~torch.from_numpy(keep)] == -1).all()  # dropped faces: no label
    kept = epochs[:, torch.from_numpy(keep)]
    assert (kept >= 0).all()
    # Only emotions with votes are drawn, and the mean over epochs approaches the target.
    drawn = torch.nn.functional.one_hot(kept, 8).double().mean(dim=0)
    assert (drawn[t[keep] == 0] == 0).all()
    assert (drawn - t[keep].double()).abs().max() < 0.15
    varied = (kept != kept[0]).any(dim=0)
    assert varied.sum() == ((t[keep] > 0).sum(dim=1) > 1).sum()


def test_draw_labels_takes_numpy_and_keeps_one_hot_rows():
    target, _ = targets(np.array([votes_of(anger=10)], dtype=np.uint8), "majority")
    labels = draw_labels(np.repeat(target, 5, axis=0), torch.Generator().manual_seed(0))
    assert labels.tolist() == [FERPLUS_EMOTIONS.index("anger")] * 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_draw_labels_on_the_training_device():
    target, keep = targets(random_votes(1000, seed=8), "probability")
    t = torch.from_numpy(target).cuda()
    labels = draw_labels(t, torch.Generator(device="cuda").manual_seed(0))
    assert labels.device == t.device and labels.dtype == torch.int64
    kept = torch.from_numpy(keep).cuda()
    assert (labels[~kept] == -1).all()
    assert (t[kept].gather(1, labels[kept, None]) > 0).all()  # never an emotion without votes


# ---------------------------------------------------------------------------------------------
# Reading the file, and one clear line for each bad input


def ferplus_text(rows: list[list[int]], usage: list[str] | None = None) -> str:
    usage = usage or ["Training"] * len(rows)
    lines = [HEADER]
    for i, (u, row) in enumerate(zip(usage, rows, strict=True)):
        lines.append(f"{u},fer{i:07d}.png," + ",".join(map(str, row)))
    return "\n".join(lines) + "\n"


GOOD = [votes_of(neutral=6, happiness=4), votes_of(NF=10), votes_of(fear=5, surprise=5)] * 2


@pytest.mark.parametrize("name", ["fer2013new.csv", "fer2013new.csv.gz"])
def test_reads_votes_and_usage(write_csv, name):
    usage = ["Training", "Training", "PublicTest", "PublicTest", "PrivateTest", "Training"]
    path = write_csv(ferplus_text(GOOD, usage), name)
    votes = read_ferplus_votes(path)
    assert isinstance(votes, FerPlusVotes) and len(votes) == 6 and votes.source == str(path)
    assert votes.votes.dtype == np.uint8 and votes.usage.dtype == np.int8
    np.testing.assert_array_equal(votes.votes, GOOD)
    np.testing.assert_array_equal(votes.usage, [USAGES.index(u) for u in usage])


def test_empty_image_name_bom_and_trailing_blank_lines_are_fine(write_csv):
    text = "\ufeff" + ferplus_text(GOOD).replace("fer0000001.png", "") + "\n\n"
    votes = read_ferplus_votes(write_csv(text))
    assert len(votes) == len(GOOD)


def _bad(write_csv, text: str) -> str:
    with pytest.raises(DataError) as info:
        read_ferplus_votes(write_csv(text))
    message = str(info.value)
    assert "\n" not in message
    return message


def _edit(row: int, new: str) -> str:
    lines = ferplus_text(GOOD).splitlines()
    lines[row] = new  # lines[0] is the header: data row `row` is file line row + 1
    return "\n".join(lines) + "\n"


def test_row_with_nine_votes(write_csv):
    message = _bad(write_csv, _edit(2, "Training,fer0000001.png,0,0,0,0,0,0,0,0,10"))
    assert "row 2 (line 3)" in message and "9 vote values, expected 10" in message


def test_row_with_eleven_votes(write_csv):
    message = _bad(write_csv, _edit(3, "Training,x.png,0,0,0,0,0,0,0,0,1,9,0"))
    assert "row 3 (line 4)" in message and "13 fields, expected 12" in message


def test_first_row_with_a_vote_too_many_is_not_taken_for_an_index(write_csv):
    message = _bad(write_csv, _edit(1, "Training,x.png,0,0,0,0,0,0,0,0,1,9,0"))
    assert "row 1 (line 2)" in message and "13 fields" in message


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("-1", "not a non-negative integer"),
        ("2.5", "not a non-negative integer"),
        ("x", "not a non-negative integer"),
        ("300", "too large"),
    ],
)
def test_bad_vote_count(write_csv, value, what):
    message = _bad(write_csv, _edit(4, f"PublicTest,x.png,4,0,0,0,0,0,{value},0,0,0"))
    assert "row 4 (line 5)" in message and f"fear vote count '{value}'" in message
    assert what in message


def test_blank_line_inside_names_its_row(write_csv):
    message = _bad(write_csv, _edit(2, ""))
    assert "row 2 (line 3)" in message and "0 vote values" in message


def test_unknown_usage(write_csv):
    message = _bad(write_csv, _edit(5, "Validation,x.png,10,0,0,0,0,0,0,0,0,0"))
    assert "row 5 (line 6)" in message and "Usage 'Validation' is not one of" in message


def test_missing_columns_are_named(write_csv):
    text = ferplus_text(GOOD).replace(",unknown,NF", ",unk,nf", 1)
    message = _bad(write_csv, text)
    assert "missing column(s) 'unknown', 'NF'" in message and "'unk'" in message


def test_column_named_twice(write_csv):
    lines = ferplus_text(GOOD).splitlines()
    text = "\n".join([lines[0] + ",fear", *(line + ",0" for line in lines[1:])]) + "\n"
    assert "the header names 'fear' twice" in _bad(write_csv, text)


def test_missing_file_names_the_option(tmp_path: Path):
    with pytest.raises(DataError, match=r"no FER\+ vote file at .*data\.ferplus_path="):
        read_ferplus_votes(tmp_path / "fer2013new.csv")


def test_header_only_and_empty_files(write_csv):
    assert "no rows" in _bad(write_csv, HEADER + "\n")
    with pytest.raises(DataError, match="empty"):
        read_ferplus_votes(write_csv(""))


# ---------------------------------------------------------------------------------------------
# Lining up with the FER2013 CSV


def _votes(usage: list[int]) -> FerPlusVotes:
    n = len(usage)
    return FerPlusVotes(
        usage=np.array(usage, dtype=np.int8),
        votes=np.zeros((n, 10), dtype=np.uint8),
        source="fer2013new.csv",
    )


def test_aligned_rows_pass():
    check_aligned(_votes([0, 0, 1, 2]), np.array([0, 0, 1, 2], dtype=np.int8), "fer2013.csv")


def test_row_count_mismatch_names_both_files():
    with pytest.raises(DataError) as info:
        check_aligned(_votes([0, 0, 1]), np.array([0, 0, 1, 2], dtype=np.int8), "fer2013.csv")
    message = str(info.value)
    assert "fer2013new.csv has 3 rows but fer2013.csv has 4" in message
    assert "official fer2013new.csv" in message and "row for row" in message and "\n" not in message


def test_usage_mismatch_names_the_first_row():
    fer = np.array([0, 0, 0, 1, 1, 2, 2], dtype=np.int8)
    with pytest.raises(DataError) as info:
        check_aligned(_votes([0, 0, 0, 0, 1, 1, 2]), fer, "fer2013.csv")
    message = str(info.value)
    assert "fer2013new.csv: row 4 (line 5) has Usage Training" in message
    assert "row 4 of fer2013.csv has Usage PublicTest" in message
    assert "2 rows differ" in message and "official fer2013new.csv" in message


# ---------------------------------------------------------------------------------------------
# The shared copy: fer2013new.csv's Training and PublicTest rows, beside fer2013_dev.csv.gz


@pytest.fixture(scope="module")
def shared_votes() -> FerPlusVotes:
    if not SHARED_FERPLUS.exists():
        pytest.skip(f"the shared FER+ copy is absent ({SHARED_FERPLUS})")
    return read_ferplus_votes(SHARED_FERPLUS)


@pytest.fixture(scope="module")
def shared_fer_columns() -> pd.DataFrame:
    """FER2013's emotion and Usage columns only (pandas skips the pixel text: about 2 s)."""
    if not SHARED_CSV.exists():
        pytest.skip(f"the shared FER2013 copy is absent ({SHARED_CSV})")
    return pd.read_csv(SHARED_CSV, usecols=["emotion", "Usage"], dtype=str)


@pytest.mark.e2e
def test_shared_file_reads_and_aligns(shared_votes, shared_fer_columns):
    assert len(shared_votes) == 32_298
    assert np.bincount(shared_votes.usage).tolist() == [28_709, 3_589]
    usage = shared_fer_columns["Usage"].map(USAGES.index).to_numpy(dtype=np.int8)
    check_aligned(shared_votes, usage, str(SHARED_CSV))
    shifted = np.concatenate([usage[:1], usage[:-1]])  # one extra row on top of FER2013
    with pytest.raises(DataError, match=r"row 28710 \(line 28711\) has Usage PublicTest but"):
        check_aligned(shared_votes, shifted, str(SHARED_CSV))


def test_shared_majority_agrees_with_fer2013(shared_votes, shared_fer_columns):
    fer = shared_fer_columns["emotion"].astype(int).to_numpy()
    labels, keep = majority_labels(shared_votes)
    agree_kept = (np.array(TO_FER2013)[labels[keep]] == fer[keep]).mean()
    # The README's check: the most-voted of the ten columns against FER2013's label, all rows
    # (unknown and NF match nothing).
    plurality = np.array([*TO_FER2013, -1, -1])[shared_votes.votes.argmax(axis=1)]
    agree_all = (plurality == fer).mean()
    shuffled = (plurality == np.random.default_rng(0).permutation(fer)).mean()
    print(
        f"FER2013 agrees with: FER+ majority {agree_kept:.1%} of kept faces; top vote "
        f"{agree_all:.1%} of all rows (README: 62.9%); shuffled {shuffled:.1%}"
    )
    assert 0.60 < agree_all < 0.66
    assert 0.64 < agree_kept < 0.71
    assert shuffled < 0.25


# What the shared file gives (reported by the test run with -s as well).
SHARED_DROPS = {
    "majority": 4039,
    "probability": 837,
    "crossentropy": 837,
    "multilabel": 1155,
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_shared_drop_counts(shared_votes, scheme):
    target, keep = targets(shared_votes, scheme)
    reasons = drop_reasons(shared_votes, keep)
    print(f"{scheme}: kept {keep.sum()}, dropped {(~keep).sum()}: {reasons}")
    assert int((~keep).sum()) == SHARED_DROPS[scheme] == sum(reasons.values())
    assert reasons["not a face (NF majority)"] == 160 and reasons["unknown majority"] == 89
    np.testing.assert_allclose(target[keep].sum(axis=1), 1.0, atol=1e-6)


def test_shared_faces_without_a_name_are_dropped_by_every_scheme(shared_votes):
    names = pd.read_csv(SHARED_FERPLUS, usecols=["Image name"], dtype=str, na_filter=False)
    no_face = (names["Image name"] == "").to_numpy()
    assert no_face.sum() == 158
    for scheme in SCHEMES:
        _, keep = targets(shared_votes, scheme)
        assert not keep[no_face].any(), scheme
