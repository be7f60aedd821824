"""fer_lightning: facial emotion recognition experiments with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"

import os

# PyTorch's CPU allocator backs large tensors with transparent huge pages when this is set: on
# the 2-core development machine it cut page faults about 55x and sped a training step about
# 30%. It must be set before torch allocates; an explicit setting of the user's wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
