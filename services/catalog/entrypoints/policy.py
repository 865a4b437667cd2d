"""Who may call which CatalogService method.

Members' backends browse, search, get recommendations and quotes, and file item requests;
readonly keys browse; admins manage items, stock, codes and requests; the platform role manages
the shared catalog (its admin methods act on program `_shared`); granters have no business here.
"""

from __future__ import annotations

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tamaru.catalog.v1 import catalog_pb2

SERVICE = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]

BROWSE = {Role.ADMIN, Role.BACKEND, Role.READONLY, Role.PLATFORM}
MANAGE = {Role.ADMIN, Role.PLATFORM}

POLICY = MethodPolicy.for_service(
    SERVICE,
    {
        "SearchItems": BROWSE,
        "GetItem": BROWSE,
        "RecommendItems": {Role.ADMIN, Role.BACKEND},
        "QuoteShipping": {Role.ADMIN, Role.BACKEND, Role.READONLY},
        "ListShippingRegions": {Role.ADMIN, Role.BACKEND, Role.READONLY},
        "CreateItem": MANAGE,
        "UpdateItem": MANAGE,
        "DeleteItem": MANAGE,
        "ImportItems": MANAGE,
        "ExportItems": MANAGE,
        "GetStock": MANAGE,
        "AdjustStock": MANAGE,
        "UploadCodes": MANAGE,
        "RequestItem": {Role.BACKEND, Role.ADMIN},
        "ListItemRequests": {Role.BACKEND, Role.ADMIN},
        "ResolveItemRequest": {Role.ADMIN},
    },
)
