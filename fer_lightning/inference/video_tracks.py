"""The faces of a video over time: a time and a track id per face, a summary per track.

Each sampled frame stands for the same stretch of the video (``every_n_frames`` frames), so a
track's share of time in an emotion is the share of its sampled frames with that emotion on
top. The summaries of every video of a prediction go to one CSV beside predictions.csv.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from fer_lightning.inference.tracking import BoxLike, Tracker

SUMMARY_FILE = "video_summary.csv"
SUMMARY_COLUMNS = ["file", "track", "first_s", "last_s", "frames", "seconds", "emotion"]


@dataclass
class TrackStats:
    """One track of a video: when it was first and last seen, its top emotion per frame."""

    first_s: float
    last_s: float
    emotions: Counter = field(default_factory=Counter)


class VideoTracks:
    """Times and track ids of the faces of one video's sampled frames, fed in frame order."""

    def __init__(self, frame_rate: float, every_n_frames: int) -> None:
        self.frame_rate = frame_rate
        self.step_s = every_n_frames / frame_rate  # the stretch of video a sampled frame stands for
        self.tracker = Tracker()
        self.tracks: dict[int, TrackStats] = {}

    def time_s(self, frame: int) -> float:
        return frame / self.frame_rate

    def observe(self, frame: int, boxes: Sequence[BoxLike], emotions: Sequence[str]) -> list[int]:
        """The track id of each face of ``frame`` (frames come in order; a frame may be empty)."""
        ids = self.tracker.update(boxes)
        now = self.time_s(frame)
        for track, emotion in zip(ids, emotions, strict=True):
            stats = self.tracks.setdefault(track, TrackStats(now, now))
            stats.last_s = now
            stats.emotions[emotion] += 1
        return ids

    def summary_rows(self, name: str, class_names: Sequence[str]) -> list[list[str]]:
        """One row per track: its times, frames, seconds seen, top emotion, share per class."""
        rows = []
        for track, stats in sorted(self.tracks.items()):
            frames = sum(stats.emotions.values())
            shares = [stats.emotions[c] / frames for c in class_names]
            top = stats.emotions.most_common(1)[0][0]
            rows.append(
                [
                    name,
                    str(track),
                    f"{stats.first_s:.3f}",
                    f"{stats.last_s:.3f}",
                    str(frames),
                    f"{frames * self.step_s:.3f}",
                    top,
                    *(f"{s:.4f}" for s in shares),
                ]
            )
        return rows


class SummaryFile:
    """video_summary.csv, made when the first video's summary comes (photos need none)."""

    def __init__(self, output_dir: Path, class_names: Sequence[str]) -> None:
        self.path, self.class_names = output_dir / SUMMARY_FILE, list(class_names)
        self.file: TextIO | None = None

    def write(self, name: str, tracks: VideoTracks) -> None:
        if self.file is None:
            self.file = self.path.open("w", newline="")
            csv.writer(self.file).writerow(SUMMARY_COLUMNS + self.class_names)
        csv.writer(self.file).writerows(tracks.summary_rows(name, self.class_names))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
