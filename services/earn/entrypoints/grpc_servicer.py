"""The EarnService servicer: one class made of the per-area RPC groups."""

from __future__ import annotations

from services.earn.entrypoints.grpc_behaviours import BehaviourRpcs
from services.earn.entrypoints.grpc_imports import ImportRpcs
from services.earn.entrypoints.grpc_purchases import PurchaseRpcs
from services.earn.entrypoints.grpc_thanks import ThanksRpcs
from tamaru.earn.v1 import earn_pb2_grpc


class EarnServicer(
    PurchaseRpcs, BehaviourRpcs, ThanksRpcs, ImportRpcs, earn_pb2_grpc.EarnServiceServicer
):
    pass
