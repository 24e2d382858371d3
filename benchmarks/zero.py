"""ZeRO stage 1 on the CPU: the CNN lab's model trained by ``world_size`` processes on the gloo backend with
``torch.distributed.optim.ZeroRedundancyOptimizer`` (each rank holds the Adam state of its shard), against the
same training in one process with ``torch.optim.Adam`` (``adamcourse.distributed.train_cnn``).

Prints one JSON object::

    {"machine": str, "world_size": int, "steps": int, "batch_size": int, "n_params": int,
     "max_param_diff": float, "state_bytes_per_rank": [int, ...], "state_bytes_single": int,
     "state_fraction_per_rank": [float, ...], "single_s": float, "distributed_s": float, "quick": bool}

``max_param_diff`` is the largest absolute difference between the final parameters of the two runs;
``state_bytes_*`` count every tensor of the (local) optimizer's state, m, v and the 0-d step counters.
``distributed_s`` includes starting the processes.

Usage: ``python benchmarks/zero.py [--world-size 2] [--steps 30] [--quick]`` (``--quick``: 8 steps).
"""

from __future__ import annotations

import argparse
import json
import time

from adamcourse.distributed import max_param_diff, train_cnn
from adamcourse.runtime import describe_machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="8 steps")
    args = parser.parse_args()
    steps = 8 if args.quick else args.steps
    start = time.perf_counter()
    single = train_cnn(1, steps=steps, batch_size=args.batch_size)
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    zero = train_cnn(args.world_size, steps=steps, batch_size=args.batch_size)
    distributed_s = time.perf_counter() - start
    total = single.state_bytes[0]
    print(json.dumps({"machine": describe_machine(), "world_size": args.world_size, "steps": steps,
                      "batch_size": args.batch_size, "n_params": single.n_params,
                      "max_param_diff": max_param_diff(single, zero), "state_bytes_per_rank": zero.state_bytes,
                      "state_bytes_single": total,
                      "state_fraction_per_rank": [round(b / total, 4) for b in zero.state_bytes],
                      "single_s": round(single_s, 3), "distributed_s": round(distributed_s, 3),
                      "quick": args.quick}, indent=1))


if __name__ == "__main__":
    main()
