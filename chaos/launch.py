"""`python -m chaos.launch MODULE [ARGS...]`: run MODULE as `python -m MODULE ARGS...` would,
after asking Linux to end this process when the bank-test driver that started it dies.

The driver cannot set that up in the child itself (`preexec_fn`): running Python code between
fork and exec in a process with live gRPC threads can crash the child.
"""

from __future__ import annotations

import runpy
import sys

from runtime.devstack.processes import die_with_parent

if __name__ == "__main__":
    die_with_parent()
    module = sys.argv[1]
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
