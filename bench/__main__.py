"""`python -m bench COMMAND`: the benchmark entry point (run from the repo root); COMMANDS lists them."""

from __future__ import annotations

import sys

COMMANDS = {
    "compare": "bench.compare",
    "load": "bench.load_suite",
    "fault": "bench.fault_suite",
    "tool_sizes": "bench.tool_sizes",
    "fairness": "bench.fairness",
    "memory": "bench.memory_probe",
    "slow": "bench.slow_clients",
    "governance": "bench.governance_overhead",
    "wait": "bench.wait_latency",
    "call_cost": "bench.call_cost",
    "listen": "bench.listen_latency",
    "webhook": "bench.webhook_delivery",
    "elicit": "bench.elicit_workers",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m bench {{{','.join(COMMANDS)}}} [options]  (--help after a command)", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(COMMANDS[sys.argv[1]])
    result: int = module.main(sys.argv[2:])
    return result


if __name__ == "__main__":
    sys.exit(main())
