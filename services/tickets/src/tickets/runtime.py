"""The tickets service's runtime: the shared infrastructure plus what every ticket operation
needs besides its connection or session (settings, policy, master-data cache, numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from helpdesk_common.runtime import Runtime, runtime_of
from tickets.live.feed import LiveHub
from tickets.masterdata.cache import MasterDataCache
from tickets.settings import TicketsSettings
from tickets.sla.schedule import SlaRatios
from tickets.tickets.numbering import TicketNumbers
from tickets.tickets.policy import Policy


@dataclass(kw_only=True, eq=False)
class TicketsRuntime(Runtime):
    settings: TicketsSettings
    policy: Policy
    masterdata: MasterDataCache
    numbers: TicketNumbers
    live: LiveHub

    @property
    def ratios(self) -> SlaRatios:
        return SlaRatios(
            warning=self.settings.sla_warning_ratio,
            escalation=self.settings.sla_escalation_ratio,
        )


RuntimeDep = Annotated[TicketsRuntime, Depends(runtime_of(TicketsRuntime))]
