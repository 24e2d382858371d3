"""Shared test settings."""

import torch

# The tests use small tensors: extra intra-op threads only add contention on a 2-core CI machine
# (measured: one 100-step comparison took 27 s with 2 threads under load, 3.4 s with 1).
torch.set_num_threads(1)
