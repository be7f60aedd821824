"""Faces followed across video frames by box overlap, and each track's share of time per emotion."""

from __future__ import annotations

import csv

import pytest

from fer_lightning.inference.tracking import MAX_MISSED, Tracker, iou
from fer_lightning.inference.video_tracks import SUMMARY_COLUMNS, SummaryFile, VideoTracks


def test_iou_of_boxes_apart_touching_nested_and_equal():
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0  # sharing an edge is no overlap
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (0, 0, 5, 10)) == pytest.approx(0.5)
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_two_faces_keep_their_ids_whatever_order_the_detector_gives():
    tracker = Tracker()
    left, right = (10, 10, 50, 50), (300, 20, 60, 60)
    assert tracker.update([left, right]) == [1, 2]
    moved_left, moved_right = (18, 12, 50, 50), (290, 25, 60, 60)
    assert tracker.update([moved_right, moved_left]) == [2, 1]
    assert tracker.update([]) == []
    assert tracker.update([moved_left]) == [1]  # a missed frame does not end a track


def test_the_best_overlap_wins_and_each_track_takes_one_box():
    tracker = Tracker()
    assert tracker.update([(0, 0, 100, 100)]) == [1]
    # Both overlap track 1; the closer one keeps the id, the other is a new face.
    assert tracker.update([(40, 0, 100, 100), (5, 0, 100, 100)]) == [2, 1]


def test_a_face_gone_too_long_or_far_comes_back_as_a_new_track():
    tracker = Tracker()
    assert tracker.update([(0, 0, 50, 50)]) == [1]
    for _ in range(MAX_MISSED + 1):
        tracker.update([])
    assert tracker.update([(0, 0, 50, 50)]) == [2]
    assert tracker.update([(200, 200, 50, 50)]) == [3]  # no overlap: another face


def test_a_tracks_share_of_time_per_emotion(tmp_path):
    classes = ["happy", "sad", "neutral"]
    video = VideoTracks(frame_rate=10.0, every_n_frames=5)  # a sampled frame stands for 0.5 s
    face, other = (100, 100, 80, 80), (400, 90, 70, 70)
    frames = [
        (0, [face], ["happy"]),
        (5, [face, other], ["happy", "sad"]),
        (10, [], []),
        (15, [face], ["neutral"]),
        (20, [other, face], ["sad", "happy"]),
    ]
    ids = [video.observe(frame, boxes, emotions) for frame, boxes, emotions in frames]
    assert ids == [[1], [1, 2], [], [1], [2, 1]]
    assert video.time_s(15) == 1.5
    summaries = SummaryFile(tmp_path, classes)
    summaries.write("clip.mp4", video)
    summaries.write("empty.mp4", VideoTracks(25.0, 1))  # no face: no rows, the header stays
    summaries.close()
    with (tmp_path / "video_summary.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == SUMMARY_COLUMNS + classes
    first, second = rows
    assert (first["file"], first["track"], first["emotion"]) == ("clip.mp4", "1", "happy")
    assert (first["first_s"], first["last_s"], first["frames"], first["seconds"]) == (
        "0.000",
        "2.000",
        "4",
        "2.000",
    )
    assert [first[c] for c in classes] == ["0.7500", "0.0000", "0.2500"]
    assert (second["track"], second["first_s"], second["last_s"]) == ("2", "0.500", "2.000")
    assert [second[c] for c in classes] == ["0.0000", "1.0000", "0.0000"]
