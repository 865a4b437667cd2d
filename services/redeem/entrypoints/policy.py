"""Who may call which RedeemService method (see docs/redeem.md).

backend (the member site, app and POS backends): order, cancel, read orders, use points at
the POS, enter lotteries and read them; admin: all of that plus fulfilment updates, creating and
drawing lotteries; readonly: reads. Fulfilment backends use a backend key. granter: nothing.
"""

from __future__ import annotations

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tamaru.redeem.v1 import redeem_pb2

SERVICE = redeem_pb2.DESCRIPTOR.services_by_name["RedeemService"]

READ = {Role.ADMIN, Role.BACKEND, Role.READONLY}
ACT = {Role.ADMIN, Role.BACKEND}
ADMIN = {Role.ADMIN}

POLICY = MethodPolicy.for_service(
    SERVICE,
    {
        "PlaceOrder": ACT,
        "GetOrder": READ,
        "ListOrders": READ,
        "CancelOrder": ACT,
        "UpdateFulfilment": ACT,
        "UsePointsAtPos": ACT,
        "VoidPosDiscount": ACT,
        "CreateLottery": ADMIN,
        "GetLottery": READ,
        "ListLotteries": READ,
        "EnterLottery": ACT,
        "DrawLottery": ADMIN,
        "ListLotteryResults": READ,
    },
)
