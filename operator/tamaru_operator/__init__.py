"""The Tamaru operator: turns each ProgramConfig resource into program config in NATS KV and an
API-key Secret, and reports the services' readiness in the resource's status (docs/operator.md).

Module names here avoid any top-level module's name (`secrets`, `config`...): `kopf run
operator/tamaru_operator/handlers.py` puts this directory first on sys.path.
"""
