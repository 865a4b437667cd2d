"""`python -m tamaru_operator`: `kopf run --standalone` on this package's handlers.

Standalone: one replica, no peering resources to install (the Helm chart runs one, with the
Recreate strategy). Watches every namespace unless TAMARU_OPERATOR_NAMESPACES names some.
"""

from __future__ import annotations

from kopf import cli

from tamaru_operator.operator_settings import OperatorSettings


def kopf_arguments(settings: OperatorSettings) -> list[str]:
    args = ["run", "--standalone", "--log-format=json", "-m", "tamaru_operator.handlers"]
    if settings.namespace_names:
        for namespace in settings.namespace_names:
            args += ["--namespace", namespace]
    else:
        args.append("--all-namespaces")
    if settings.liveness:
        args += ["--liveness", settings.liveness]
    return args


def main() -> None:
    cli.main(args=kopf_arguments(OperatorSettings()), prog_name="tamaru-operator")


if __name__ == "__main__":
    main()
