"""Programs: the ProgramConfig spec (one source of truth, see spec.py), the CRD derived from it,
and publishing/watching program config through NATS KV."""

from runtime.programs.spec import (
    ProgramSpec,
    SpecInvalid,
    SpecProblem,
    parse_spec,
    validate_spec,
)

__all__ = ["ProgramSpec", "SpecInvalid", "SpecProblem", "parse_spec", "validate_spec"]
