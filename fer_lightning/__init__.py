"""fer_lightning: facial emotion recognition experiments with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"

import os

# The one thing importing the package does. PyTorch's CPU allocator backs large tensors with
# transparent huge pages when this is set (fewer page faults, faster steps: benchmarks/results.md),
# but it reads the variable once, at its first allocation, which importing torch already makes;
# so no command can set it in time, only the package that every command's import passes through
# first. An explicit setting of the user's wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


# The Python API, imported on first use: `import fer_lightning` stays as fast as importing os.
_API = {
    "EmotionRecognizer": "fer_lightning.inference.recognizer",
    "Face": "fer_lightning.inference.recognizer",
    "Frame": "fer_lightning.inference.recognizer",
}
__all__ = ["EmotionRecognizer", "Face", "Frame", "__version__"]


def __getattr__(name: str) -> object:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'fer_lightning' has no attribute {name!r}")
