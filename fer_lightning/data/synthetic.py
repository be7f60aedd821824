"""Procedural 48x48 cartoon faces showing the seven FER2013 expressions.

FER2013 cannot be downloaded by a program, so the framework ships this generator as its built-in
data set: it gives every pipeline stage (loading, augmentation, training, evaluation) real work to
do offline, in the same in-memory form as the real data (uint8 ``[N, 48, 48]`` images, int64 labels
in FER2013's label order).

Each expression is drawn from facial action cues (brows, eye opening, mouth shape, nose wrinkle).
A face's cues are its class's cue vector scaled by a random expression intensity, plus per-face
noise, so weak expressions drift towards neutral and neighbouring classes overlap: the task is
learnable but not trivial. Identity, pose, lighting, blur and pixel noise vary independently of
the label so that a model has to read the expression, not the rendering.

All faces of a chunk are rendered at once with numpy broadcasting over ``[N, H, W]`` grids: every
part is a soft (anti-aliased) mask computed from a signed distance in each face's own rotated and
scaled coordinate frame.
"""

from __future__ import annotations

import numpy as np

from fer_lightning.data.labels import EMOTIONS

# --------------------------------------------------------------------------------------------------
# Expression cues. Units are face-frame units: the face ellipse's half-axes are about 0.67 wide and
# 0.9 high, y points up, and one pixel is about 0.04.
#
#   brow_raise  (raise) brow height over its default (+ raised, - lowered)
#   brow_slant  (slant) drop of the brow's inner end per unit length (+ frown, - worried)
#   eye_open    (eye)   eye opening, height / width of the eye ellipse (wide ~1, squint ~0.35)
#   mouth_width (width) half-width of the mouth
#   mouth_curve (curve) rise of the mouth corners over its centre (+ smile, - frown)
#   open_upper  (o_up)  opening above the mouth's mid line (raised upper lip, round O)
#   open_lower  (o_dn)  opening below the mouth's mid line (dropped jaw, open smile)
#   sneer       (sneer) one-sided lift of the upper lip towards one corner
#   lip_press   (press) thinning of the lips' line, pressed lips (0..1)
#   wrinkle     (wrink) visibility of nose wrinkles (0..1)
# --------------------------------------------------------------------------------------------------
CUE_NAMES: tuple[str, ...] = (
    "brow_raise", "brow_slant", "eye_open", "mouth_width", "mouth_curve",
    "open_upper", "open_lower", "sneer", "lip_press", "wrinkle",
)  # fmt: skip

# One row per class, columns in CUE_NAMES order. A face's cues are drawn around its class's row.
# fmt: off
EXPRESSION_CUES: dict[str, tuple[float, ...]] = {
    #            raise  slant   eye  width  curve   o_up   o_dn  sneer  press  wrink
    "angry":    (-0.07,  0.75, 0.42,  0.20, -0.03,  0.00,  0.00,  0.00,  0.80,  0.30),
    "disgust":  (-0.04,  0.35, 0.40,  0.23, -0.05,  0.05,  0.01,  0.09,  0.00,  0.90),
    "fear":     ( 0.07, -0.55, 0.95,  0.33, -0.06,  0.03,  0.09,  0.00,  0.00,  0.00),
    "happy":    ( 0.01,  0.00, 0.38,  0.32,  0.13,  0.00,  0.07,  0.00,  0.00,  0.00),
    "sad":      ( 0.02, -0.65, 0.52,  0.24, -0.10,  0.00,  0.00,  0.00,  0.20,  0.00),
    "surprise": ( 0.10, -0.10, 1.00,  0.15,  0.00,  0.11,  0.13,  0.00,  0.00,  0.00),
    "neutral":  ( 0.00,  0.00, 0.62,  0.24,  0.00,  0.00,  0.00,  0.00,  0.00,  0.00),
}
# Per-face Gaussian noise on each cue (the same for every class): the overlap between classes,
# and each cue's valid range after the noise.
#                            raise  slant   eye  width  curve   o_up   o_dn  sneer  press  wrink
CUE_NOISE: tuple[float, ...] = (
                            0.025,  0.22, 0.10,  0.03,  0.03,  0.02,  0.03,  0.02,  0.20,  0.15)
CUE_LOW: tuple[float, ...] = (
                            -0.12, -1.20, 0.20,  0.10, -0.18,  0.00,  0.00,  0.00,  0.00,  0.00)
CUE_HIGH: tuple[float, ...] = (
                             0.16,  1.20, 1.15,  0.42,  0.20,  0.16,  0.20,  0.14,  1.00,  1.00)
# fmt: on

# Expression intensity: a face's cues are neutral + intensity * (class - neutral) + noise, so weak
# expressions look almost neutral, as many FER2013 faces do.
INTENSITY_RANGE: tuple[float, float] = (0.45, 1.15)

# Identity, pose, lighting and noise: label-independent nuisance factors, uniform in each range
# (angles in degrees, tones in 0..255 grey levels, lengths in face-frame or image units).
NUISANCE: dict[str, tuple[float, float]] = dict(
    face_half_width=(0.60, 0.74),
    face_half_height=(0.82, 0.96),
    eye_spacing=(0.26, 0.34),  # half the distance between the eye centres
    eye_height=(0.14, 0.22),
    eye_half_width=(0.095, 0.125),
    brow_height=(0.15, 0.19),  # default brow height above the eye centre
    mouth_height=(-0.56, -0.44),
    fringe_height=(0.62, 0.80),  # where hair covers the forehead
    shift_x=(-0.08, 0.08),  # image units, the image spans -1..1
    shift_y=(-0.08, 0.08),
    scale=(0.95, 1.18),
    rotation=(-15.0, 15.0),
    skin_tone=(115.0, 215.0),
    hair_tone=(10.0, 170.0),
    background_tone=(0.0, 255.0),
    light_gradient=(0.0, 0.35),  # relative brightness change across the image
    contrast=(0.8, 1.15),
    brightness=(-15.0, 15.0),
    blur=(0.0, 0.7),  # blend weight of a 3x3 blur
    noise_sigma=(2.0, 9.0),
)

_CHUNK = 512  # faces per rendering pass: keeps the [n, H, W] temporaries cache-sized


def generate_faces(num_faces: int, seed: int = 0, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Render a balanced, seeded set of synthetic expression faces.

    Returns ``(images, labels)``: uint8 ``[num_faces, size, size]`` and int64 ``[num_faces]`` with
    labels in FER2013's order (``EMOTIONS``). Class counts differ by at most one, and the same seed
    always gives the same arrays, so experiments on the built-in data are reproducible.
    """
    if num_faces < 0:
        raise ValueError(f"num_faces must be >= 0, got {num_faces}")
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    rng = np.random.default_rng(seed)
    labels = (np.arange(num_faces) % len(EMOTIONS)).astype(np.int64)
    rng.shuffle(labels)
    images = np.empty((num_faces, size, size), dtype=np.uint8)
    for start in range(0, num_faces, _CHUNK):
        stop = min(start + _CHUNK, num_faces)
        images[start:stop] = _render(labels[start:stop], rng, size)
    return images, labels


# --------------------------------------------------------------------------------------------------
# Rendering internals. Per-face parameters are shaped [n, 1, 1] so they broadcast over [n, H, W].
# --------------------------------------------------------------------------------------------------
_CUE_TABLE = np.array([EXPRESSION_CUES[name] for name in EMOTIONS], dtype=np.float32)
_NEUTRAL = _CUE_TABLE[EMOTIONS.index("neutral")]
_CUE_NOISE = np.array(CUE_NOISE, dtype=np.float32)
_CUE_LOW = np.array(CUE_LOW, dtype=np.float32)
_CUE_HIGH = np.array(CUE_HIGH, dtype=np.float32)


def _sample_cues(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sample each face's cues around its class's row so that classes overlap smoothly."""
    n = len(labels)
    intensity = rng.uniform(*INTENSITY_RANGE, size=(n, 1)).astype(np.float32)
    cues = _NEUTRAL + intensity * (_CUE_TABLE[labels] - _NEUTRAL)
    cues = cues + rng.standard_normal((n, len(CUE_NAMES))).astype(np.float32) * _CUE_NOISE
    cues = np.clip(cues, _CUE_LOW, _CUE_HIGH)
    return {cue: cues[:, j, None, None] for j, cue in enumerate(CUE_NAMES)}


def _sample_nuisance(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        k: rng.uniform(lo, hi, size=(n, 1, 1)).astype(np.float32)
        for k, (lo, hi) in NUISANCE.items()
    }


def _soft(sdist: np.ndarray, px: np.ndarray | float) -> np.ndarray:
    """Anti-aliased coverage of the region ``sdist < 0``, with ``px`` the pixel size."""
    return np.clip(0.5 - sdist / px, 0.0, 1.0)


def _ellipse_sd(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse centred at the origin."""
    r = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    return (r - 1.0) * np.minimum(a, b)


def _paint(canvas: np.ndarray, tone: np.ndarray | float, alpha: np.ndarray) -> np.ndarray:
    return canvas + alpha * (tone - canvas)


def _render(labels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    n = len(labels)
    cue = _sample_cues(labels, rng)
    nz = _sample_nuisance(n, rng)
    f32 = np.float32

    # Image grid: pixel centres, x right and y up, spanning -1..1.
    coords = (np.arange(size, dtype=f32) + 0.5) / size * 2.0 - 1.0
    gx = coords[None, None, :]
    gy = -coords[None, :, None]

    # Each face's own frame: shift, rotate, scale.
    theta = np.deg2rad(nz["rotation"])
    cos, sin = np.cos(theta), np.sin(theta)
    dx, dy = gx - nz["shift_x"], gy - nz["shift_y"]
    scale = nz["scale"]
    x = (cos * dx + sin * dy) / scale
    y = (-sin * dx + cos * dy) / scale
    px = f32(2.0 / size) / scale  # one pixel in face units

    fw, fh = nz["face_half_width"], nz["face_half_height"]
    skin, hair = nz["skin_tone"], nz["hair_tone"]
    feature_dark = np.minimum(hair, skin * 0.45)  # brows, lid lines
    mouth_dark = skin * rng.uniform(0.15, 0.35, size=(n, 1, 1)).astype(f32)
    lip_tone = skin * rng.uniform(0.55, 0.75, size=(n, 1, 1)).astype(f32)

    # Background, neck and shoulders, hair behind the head.
    canvas = np.broadcast_to(nz["background_tone"], (n, size, size)).astype(f32)
    canvas = canvas + 18.0 * gy  # faint background gradient so backgrounds are not flat
    neck = _soft(np.maximum(np.abs(x) - fw * 0.55, y + fh * 0.6), px)
    shoulders = _soft(_ellipse_sd(x, y + fh + 0.9, fw * 2.2, f32(0.75)), px)
    canvas = _paint(canvas, skin * 0.8, np.maximum(neck, shoulders * (y < -fh * 0.9)))
    hair_back = _soft(_ellipse_sd(x, y - 0.06, fw * 1.18, fh * 1.08), px) * (y > -0.1)
    canvas = _paint(canvas, hair, hair_back)

    # Face with a little shading towards its rim.
    face_sd = _ellipse_sd(x, y, fw, fh)
    face = _soft(face_sd, px)
    rim = np.clip(1.0 + face_sd / (0.35 * fw), 0.0, 1.0)
    canvas = _paint(canvas, skin * (1.0 - 0.18 * rim**2), face)

    # Fringe: hair covering the top of the forehead along a slightly wavy line.
    fringe_line = nz["fringe_height"] * fh - 0.06 * np.cos(3.0 * x / fw)
    canvas = _paint(canvas, hair, face * _soft(fringe_line - y, px))

    # Eyes: light sclera, dark pupil, dark upper lid; opening set by the eye_open cue.
    ax = np.abs(x)
    side = np.sign(x)
    ex, ey, ew = nz["eye_spacing"], nz["eye_height"], nz["eye_half_width"]
    eh = ew * cue["eye_open"]
    ex_local = ax - ex
    ey_local = y - ey
    sclera = _soft(_ellipse_sd(ex_local, ey_local, ew, eh), px * 0.7)
    gaze = rng.uniform(-0.03, 0.03, size=(n, 1, 1)).astype(f32)
    pupil_r = np.minimum(ew * 0.55, eh * 1.05)
    pupil = sclera * _soft(np.sqrt((x - side * ex - gaze) ** 2 + ey_local**2) - pupil_r, px * 0.7)
    lid_y = eh * np.sqrt(np.clip(1.0 - (ex_local / (ew * 1.15)) ** 2, 0.0, 1.0))
    lid = _soft(np.maximum(np.abs(ey_local - lid_y) - 0.022, np.abs(ex_local) - ew * 1.15), px)
    canvas = _paint(canvas, np.minimum(skin + 55.0, 245.0), sclera)
    canvas = _paint(canvas, f32(25.0), pupil)
    canvas = _paint(canvas, feature_dark, lid)

    # Brows: thick slanted arcs above the eyes; u < 0 is the inner (nose) end.
    u = ex_local
    brow_len = ew * 1.45
    brow_base = ey + nz["brow_height"] + cue["brow_raise"]
    brow_y = brow_base + cue["brow_slant"] * u - 0.9 * (u / brow_len) ** 2 * ew
    brow = _soft(np.maximum(np.abs(y - brow_y) - 0.035, np.abs(u) - brow_len), px)
    canvas = _paint(canvas, feature_dark, brow * face)

    # Nose: a soft shadow under the tip; wrinkle lines across the bridge for disgust.
    nose_y = (ey + nz["mouth_height"]) * 0.5 - 0.05
    nose = _soft(_ellipse_sd(x, y - nose_y, f32(0.09), f32(0.035)), px)
    canvas = _paint(canvas, skin * 0.7, nose * 0.8)
    bend = 0.08 * np.sqrt(np.maximum(ax - 0.085, 0.0))  # the lines' ends curl upwards
    wrinkle = np.zeros_like(canvas)
    for k in range(2):
        wy = ey - 0.02 - 0.075 * k + bend
        wrinkle = np.maximum(wrinkle, _soft(np.maximum(np.abs(y - wy) - 0.016, ax - 0.13), px))
    canvas = _paint(canvas, skin * 0.6, wrinkle * cue["wrinkle"])

    # Mouth: region between a lower and an upper curve; closed mouths are just the lip line.
    mw, my = cue["mouth_width"], nz["mouth_height"]
    xn = x / mw
    inside_w = np.clip(1.0 - xn**2, 0.0, 1.0)
    bulge = np.sqrt(inside_w)
    sneer_side = np.where(rng.random((n, 1, 1)) < 0.5, f32(1.0), f32(-1.0))
    mid = my + cue["mouth_curve"] * xn**2
    upper = mid + cue["open_upper"] * bulge + cue["sneer"] * np.clip(sneer_side * xn, 0.0, 1.0)
    lower = mid - cue["open_lower"] * bulge
    half_t = 0.032 * (1.0 - 0.45 * cue["lip_press"])
    mouth_sd = np.maximum.reduce([lower - half_t - y, y - upper - half_t, (np.abs(xn) - 1.0) * mw])
    mouth = _soft(mouth_sd, px)
    opening = cue["open_upper"] + cue["open_lower"]
    open_frac = np.clip(opening / 0.06, 0.0, 1.0)  # how much the mouth reads as an open cavity
    canvas = _paint(canvas, lip_tone + open_frac * (mouth_dark - lip_tone), mouth)
    teeth_line = upper - 0.45 * (upper - lower)
    is_smile = np.clip(cue["mouth_curve"] / 0.08, 0.0, 1.0) * open_frac
    teeth = mouth * _soft(np.maximum(teeth_line - y, y - upper + half_t), px) * is_smile
    canvas = _paint(canvas, np.minimum(skin + 40.0, 240.0), teeth)

    # Lighting, contrast, blur, noise.
    angle = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1, 1)).astype(f32)
    ramp = np.cos(angle) * gx + np.sin(angle) * gy
    canvas = canvas * (1.0 + nz["light_gradient"] * ramp)
    canvas = 128.0 + (canvas - 128.0) * nz["contrast"] + nz["brightness"]
    padded = np.pad(canvas, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    blurred = (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]) / f32(9.0)
    canvas = canvas + nz["blur"] * (blurred - canvas)
    canvas = canvas + rng.standard_normal(canvas.shape, dtype=f32) * nz["noise_sigma"]
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
