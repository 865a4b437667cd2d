"""Group RPCs of AccountsService: the group tree and its members."""

from __future__ import annotations

import grpc

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument
from services.accounts.adapters.group_repository import get_group
from services.accounts.adapters.ledger_queries import page_size
from services.accounts.adapters.member_queries import MemberFilter
from services.accounts.entrypoints.grpc_members import page_of_members
from services.accounts.entrypoints.member_convert import group_proto, mask_paths
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer import groups
from tamaru.accounts.v1 import accounts_pb2
from tamaru.common.v1 import common_pb2


def _group_id(value: str, field: str = "group_id") -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > 36:
        raise InvalidArgument(f"{field} is not a group id", field=field)
    return value


class GroupRpcs(RpcBase):
    async def CreateGroup(
        self, request: accounts_pb2.CreateGroupRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.CreateGroupResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.CreateGroupResponse:
            group_id = await groups.create_group(
                uow,
                program_id,
                name=request.name,
                parent_id=request.parent_group_id,
                description=request.description,
            )
            row = await get_group(uow.session, program_id, group_id)
            return accounts_pb2.CreateGroupResponse(group=group_proto(row, 0))

        return await self.mutate("CreateGroup", request, accounts_pb2.CreateGroupResponse, work)

    async def UpdateGroup(
        self, request: accounts_pb2.UpdateGroupRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.UpdateGroupResponse:
        group_id = _group_id(request.group_id)
        paths = mask_paths(request.update_mask, ("name", "parent_group_id", "description"))
        c = request.changes
        changes = groups.GroupChanges(
            name=c.name if "name" in paths else None,
            parent_id=c.parent_group_id if "parent_group_id" in paths else None,
            description=c.description if "description" in paths else None,
        )

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.UpdateGroupResponse:
            await groups.update_group(uow, program_id, group_id, changes)
            uow.session.expire_all()  # the tree changed under the loaded rows
            row = await get_group(uow.session, program_id, group_id)
            counts = await groups.member_counts(uow.session, program_id, [group_id])
            return accounts_pb2.UpdateGroupResponse(group=group_proto(row, counts.get(group_id, 0)))

        return await self.mutate("UpdateGroup", request, accounts_pb2.UpdateGroupResponse, work)

    async def DeleteGroup(
        self, request: accounts_pb2.DeleteGroupRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.DeleteGroupResponse:
        group_id = _group_id(request.group_id)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.DeleteGroupResponse:
            await groups.delete_group(uow, program_id, group_id)
            return accounts_pb2.DeleteGroupResponse()

        return await self.mutate("DeleteGroup", request, accounts_pb2.DeleteGroupResponse, work)

    async def ListGroups(
        self, request: accounts_pb2.ListGroupsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListGroupsResponse:
        size = page_size(request.page.page_size)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ListGroupsResponse:
            rows, counts, token = await groups.group_page(
                uow.session,
                program_id,
                parent_id=request.parent_group_id,
                size=size,
                token=request.page.page_token,
            )
            return accounts_pb2.ListGroupsResponse(
                groups=[group_proto(r, counts.get(r.group_id, 0)) for r in rows],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await self.read(work)

    async def ListGroupMembers(
        self, request: accounts_pb2.ListGroupMembersRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListGroupMembersResponse:
        where = MemberFilter(
            group_id=_group_id(request.group_id), include_subgroups=request.include_subgroups
        )
        found, page = await page_of_members(self, where, request.page, group_field="group_id")
        return accounts_pb2.ListGroupMembersResponse(members=found, page=page)
