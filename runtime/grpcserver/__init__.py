"""The gRPC server every Tamaru service runs: auth by API key, error mapping, logging, tracing,
health and reflection. Services call `start_server` and read `current_principal()`."""

from runtime.grpcserver.context import (
    NoPrincipalError,
    bind_principal,
    current_principal,
    current_principal_or_none,
)
from runtime.grpcserver.error_mapping import ERROR_DETAIL_METADATA_KEY, error_detail_from_metadata
from runtime.grpcserver.policy import PUBLIC_SERVICES, MethodPolicy
from runtime.grpcserver.server import RunningServer, start_server
from runtime.grpcserver.signals import install_signal_handlers

__all__ = [
    "ERROR_DETAIL_METADATA_KEY",
    "PUBLIC_SERVICES",
    "MethodPolicy",
    "NoPrincipalError",
    "RunningServer",
    "bind_principal",
    "current_principal",
    "current_principal_or_none",
    "error_detail_from_metadata",
    "install_signal_handlers",
    "start_server",
]
