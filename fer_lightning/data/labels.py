"""The label sets (FER2013's seven emotions, FER+'s eight) and usage vocabulary, in file order."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)

# FER+ (Barsoum et al. 2016): ten new votes per FER2013 face over eight emotions, in the order of
# its fer2013new.csv columns.
FERPLUS_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
LABEL_SETS: dict[str, tuple[str, ...]] = {"fer2013": EMOTIONS, "ferplus": FERPLUS_EMOTIONS}

USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
"""Usage codes in the in-memory form are indices into this tuple; -1 means unknown."""

IMAGE_SIZE = 48
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
