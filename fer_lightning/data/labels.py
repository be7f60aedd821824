"""FER2013's label and usage vocabularies, in the data set's own order."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)

USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
"""Usage codes in the in-memory form are indices into this tuple; -1 means unknown."""

IMAGE_SIZE = 48
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
