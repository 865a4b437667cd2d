"""The RedeemService servicer, assembled from its parts (one file per area)."""

from __future__ import annotations

from services.redeem.entrypoints.grpc_lotteries import LotteryRpcs
from services.redeem.entrypoints.grpc_orders import OrderRpcs
from services.redeem.entrypoints.grpc_pos import PosRpcs
from tamaru.redeem.v1 import redeem_pb2_grpc


class RedeemServicer(OrderRpcs, PosRpcs, LotteryRpcs, redeem_pb2_grpc.RedeemServiceServicer):
    """Every method is implemented by one of the parts (a test checks none is left to the
    generated base class, which would answer UNIMPLEMENTED)."""
