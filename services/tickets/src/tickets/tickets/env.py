"""What every ticket operation needs besides the session: settings, policy, caches."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from tickets.masterdata.cache import MasterDataCache
from tickets.settings import TicketsSettings
from tickets.sla.schedule import SlaRatios
from tickets.tickets.numbering import TicketNumbers
from tickets.tickets.policy import Policy


@dataclass(frozen=True)
class TicketsEnv:
    settings: TicketsSettings
    policy: Policy
    masterdata: MasterDataCache
    numbers: TicketNumbers

    @property
    def ratios(self) -> SlaRatios:
        return SlaRatios(
            warning=self.settings.sla_warning_ratio,
            escalation=self.settings.sla_escalation_ratio,
        )

    @property
    def producer(self) -> str:
        return self.settings.service_name


async def get_env(request: Request) -> TicketsEnv:
    # async: a plain ``def`` dependency would be run in a worker thread on every request.
    return request.app.state.tickets_env
