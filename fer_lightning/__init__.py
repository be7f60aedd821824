"""fer_lightning: facial emotion recognition experiments with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"

import os

# The one thing importing the package does. PyTorch's CPU allocator backs large tensors with
# transparent huge pages when this is set (fewer page faults, faster steps: benchmarks/results.md),
# but it reads the variable once, at its first allocation, which importing torch already makes;
# so no command can set it in time, only the package that every command's import passes through
# first. An explicit setting of the user's wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
