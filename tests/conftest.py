"""Suite-wide settings: tiny models run fastest on one thread (2-core CI machines)."""

import torch

torch.set_num_threads(1)
