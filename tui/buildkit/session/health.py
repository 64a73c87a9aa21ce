"""The session's grpc.health.v1 service: always SERVING while the session lives."""

from __future__ import annotations

import grpc

from tui.buildkit.proto import health_pb2, health_pb2_grpc


class HealthService(health_pb2_grpc.HealthServicer):
    """Answers the daemon's periodic health checks."""

    def __init__(self) -> None:
        self.checks = 0

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        """Report the session as serving."""
        self.checks += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
