"""LLBBridge (the gateway API) bound to one build job."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from tui.buildkit.errors import error_from_rpc
from tui.buildkit.proto import gateway_pb2, gateway_pb2_grpc, ops_pb2, rpc_status_pb2

BUILD_ID_HEADER = "buildkit-controlapi-buildid"


class Gateway:
    """LLBBridge calls carrying the ``buildkit-controlapi-buildid`` header.

    Failed calls raise :class:`tui.buildkit.errors.BuildError` with the decoded details.
    """

    def __init__(self, channel: grpc.aio.Channel, build_ref: str) -> None:
        self.build_ref = build_ref
        self.metadata = ((BUILD_ID_HEADER, build_ref),)
        self.stub = gateway_pb2_grpc.LLBBridgeStub(channel)

    async def ping(self) -> gateway_pb2.PongResponse:
        """Capabilities of the gateway (also waits for the job to be registered)."""
        try:
            pong: gateway_pb2.PongResponse = await self.stub.Ping(
                gateway_pb2.PingRequest(), metadata=self.metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        return pong

    async def solve(
        self,
        *,
        frontend: str = "",
        frontend_opt: Mapping[str, str] | None = None,
        definition: ops_pb2.Definition | None = None,
        evaluate: bool = True,
    ) -> gateway_pb2.Result:
        """Solve a frontend or a definition inside the job; return the result."""
        req = gateway_pb2.SolveRequest(
            Frontend=frontend,
            FrontendOpt=dict(frontend_opt or {}),
            allowResultReturn=True,
            allowResultArrayRef=True,
            Evaluate=evaluate,
        )
        if definition is not None:
            req.Definition.CopyFrom(definition)
        try:
            resp = await self.stub.Solve(req, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None
        result: gateway_pb2.Result = resp.result
        return result

    async def return_result(self, result: gateway_pb2.Result) -> None:
        """Hand the final result to the job (then Control.Solve exports it)."""
        await self._return(gateway_pb2.ReturnRequest(result=result))

    async def return_error(self, status: rpc_status_pb2.Status) -> None:
        """Hand a failure to the job (Control.Solve then fails with it)."""
        await self._return(gateway_pb2.ReturnRequest(error=status))

    async def _return(self, req: gateway_pb2.ReturnRequest) -> None:
        try:
            await self.stub.Return(req, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    async def new_container(self, req: gateway_pb2.NewContainerRequest) -> None:
        """Create a debug container."""
        try:
            await self.stub.NewContainer(req, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    async def release_container(self, container_id: str) -> None:
        """Release a debug container (errors are the init process's; raised as BuildError)."""
        req = gateway_pb2.ReleaseContainerRequest(ContainerID=container_id)
        try:
            await self.stub.ReleaseContainer(req, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    def exec_process(self) -> grpc.aio.StreamStreamCall:
        """Open the ExecProcess stream (multiplexes processes by ProcessID)."""
        return self.stub.ExecProcess(metadata=self.metadata)
