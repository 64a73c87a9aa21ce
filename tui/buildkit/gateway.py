"""LLBBridge (the gateway API) bound to one build job."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

import grpc

from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import error_from_rpc
from tui.buildkit.execstream import ExecStream
from tui.buildkit.proto import gateway_pb2, gateway_pb2_grpc, ops_pb2, rpc_status_pb2
from tui.buildkit.session.pipe import Pipe

BUILD_ID_HEADER = "buildkit-controlapi-buildid"


class Gateway:
    """LLBBridge calls carrying the ``buildkit-controlapi-buildid`` header.

    Failed calls raise :class:`tui.buildkit.errors.BuildError` with the decoded details.
    """

    def __init__(self, channel: grpc.aio.Channel, build_ref: str,
                 connect: Callable[[], Awaitable[Pipe]]) -> None:
        self.build_ref = build_ref
        self.metadata = ((BUILD_ID_HEADER, build_ref),)
        self.stub = gateway_pb2_grpc.LLBBridgeStub(channel)
        self._connect = connect
        #: Cache imports sent with every solve (``--cache-from``), as buildx's client does.
        self.cache_imports: list[gateway_pb2.CacheOptionsEntry] = []

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
            CacheImports=self.cache_imports,
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

    async def exec_process(self) -> ExecStream:
        """Open an ExecProcess stream for one process, on a connection of its own."""
        t0 = time.perf_counter()
        pipe = await self._connect()
        LOG.debug("stream LLBBridge/ExecProcess: connection opened in %.1f ms",
                  (time.perf_counter() - t0) * 1e3)
        return ExecStream(pipe, self.metadata)
