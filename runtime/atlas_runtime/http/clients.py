"""One `ServiceClient` per called service per process."""

from __future__ import annotations

from collections.abc import Mapping

from atlas_runtime.auth.service_tokens import TokenSource
from atlas_runtime.http.client import ServiceClient
from atlas_runtime.http.settings import ClientSettings


class ServiceClients:
    """One `ServiceClient` per called service, created on first use, closed together."""

    def __init__(
        self,
        *,
        settings: ClientSettings | None = None,
        token_source: TokenSource | None = None,
        base_urls: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings or ClientSettings()
        self.token_source = token_source
        self._base_urls = dict(base_urls or {})
        self._clients: dict[str, ServiceClient] = {}

    def get(self, service: str) -> ServiceClient:
        client = self._clients.get(service)
        if client is None:
            client = ServiceClient(
                service,
                base_url=self._base_urls.get(service),
                settings=self.settings,
                token_source=self.token_source,
            )
            self._clients[service] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
