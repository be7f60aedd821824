"""Faces followed across video frames by box overlap: a track id per face.

A greedy tracker is enough for the faces of a clip: in each frame, the pairs of (track, box)
are taken by falling overlap (intersection over union), each track and box used once; a box
left over starts a new track. A track survives a few frames without its face (the detector
misses a frame now and then) before it ends, so a face that comes back keeps its id. Faces that
move far between two sampled frames (a large ``every_n_frames``) overlap too little and get a
new id: sample more often to follow fast faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BoxLike = Sequence[int] | tuple[int, int, int, int]  # x, y, width, height

# Below this overlap two boxes are taken to be different faces: a face that moves by a third
# of its size between sampled frames still overlaps more.
MIN_IOU = 0.3
# Sampled frames a track waits for its face before it ends.
MAX_MISSED = 5


def iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union of two (x, y, w, h) boxes: 0 apart, 1 the same box."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = min(ax + aw, bx + bw) - max(ax, bx)
    height = min(ay + ah, by + bh) - max(ay, by)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (aw * ah + bw * bh - inter)


@dataclass
class Track:
    """A followed face: its id, its latest box, the frames since it was last seen."""

    id: int
    box: tuple[int, int, int, int]
    missed: int = 0


class Tracker:
    """Track ids (1, 2, ...) for the face boxes of consecutive frames of one video.

    >>> tracker = Tracker()
    >>> tracker.update([(10, 10, 50, 50)]), tracker.update([(200, 0, 40, 40), (12, 11, 50, 50)])
    ([1], [2, 1])
    """

    def __init__(self, min_iou: float = MIN_IOU, max_missed: int = MAX_MISSED) -> None:
        self.min_iou, self.max_missed = min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, boxes: Sequence[BoxLike]) -> list[int]:
        """The track id of each box of the next frame, in the order of ``boxes``."""
        given = [(int(x), int(y), int(w), int(h)) for x, y, w, h in boxes]
        pairs = sorted(
            (
                (overlap, t, b)
                for t, track in enumerate(self.tracks)
                for b, box in enumerate(given)
                if (overlap := iou(track.box, box)) >= self.min_iou
            ),
            key=lambda pair: -pair[0],
        )
        ids: list[int] = [0] * len(given)  # 0: no track yet
        matched: set[int] = set()
        for _, t, b in pairs:
            if t in matched or ids[b]:
                continue
            matched.add(t)
            track = self.tracks[t]
            track.box, track.missed, ids[b] = given[b], 0, track.id
        for t, track in enumerate(self.tracks):
            if t not in matched:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for b, box in enumerate(given):
            if not ids[b]:
                ids[b] = self.next_id
                self.tracks.append(Track(self.next_id, box))
                self.next_id += 1
        return ids
