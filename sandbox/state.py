"""The live state every server reads: the current phase (one reference, swapped atomically) and the
hostile behaviours switched on at run time."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

from sandbox.model import BEHAVIOURS, SERVICE_BEHAVIOURS, DomainState, PhaseView, behaviour_category
from sandbox.world import World


class LiveState:
    def __init__(self, world: World, phase: str, ip_map: Mapping[str, str] | None = None) -> None:
        self.world = world
        self._view = self._lookup(phase)
        self._lock = threading.Lock()
        self._behaviours: dict[str, dict[str, str]] = {}
        self._services: dict[str, str] = {}
        self.ip_map: Mapping[str, str] = MappingProxyType(dict(ip_map or {}))
        self.stopping = threading.Event()

    def _lookup(self, phase: str) -> PhaseView:
        if phase not in self.world.views:
            raise ValueError(f"unknown phase {phase!r} (phases of {self.world.name}: {', '.join(self.world.phases)})")
        return self.world.views[phase]

    @property
    def view(self) -> PhaseView:
        """Read once per request: a request never sees two phases."""
        return self._view

    def set_phase(self, phase: str) -> None:
        self._view = self._lookup(phase)

    def set_behaviour(self, domain: str, behaviour: str | None) -> None:
        domain = domain.lower().rstrip(".")
        with self._lock:
            if behaviour is None:
                self._behaviours.pop(domain, None)
                return
            if behaviour not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {behaviour!r} (known: {', '.join(sorted(BEHAVIOURS))})")
            self._behaviours.setdefault(domain, {})[behaviour_category(behaviour)] = behaviour

    def clear_behaviours(self) -> None:
        with self._lock:
            self._behaviours.clear()
            self._services.clear()

    def set_service_behaviour(self, service: str, behaviour: str | None) -> None:
        if service not in SERVICE_BEHAVIOURS:
            raise ValueError(f"unknown service {service!r} (known: {', '.join(SERVICE_BEHAVIOURS)})")
        with self._lock:
            if behaviour is None:
                self._services.pop(service, None)
                return
            if behaviour not in SERVICE_BEHAVIOURS[service]:
                raise ValueError(f"unknown {service} behaviour {behaviour!r} "
                                 f"(known: {', '.join(sorted(SERVICE_BEHAVIOURS[service]))})")
            self._services[service] = behaviour

    def service_behaviour(self, service: str) -> str | None:
        with self._lock:
            return self._services.get(service)

    def behaviour(self, state: DomainState | None, category: str, name: str = "") -> str | None:
        """The active hostile behaviour of `category` for a domain (run-time switch beats the world file)."""
        key = state.name if state else name
        with self._lock:
            runtime = self._behaviours.get(key, {}).get(category)
        if runtime:
            return runtime
        if state:
            for b in sorted(state.behaviours):
                if behaviour_category(b) == category:
                    return b
        return None

    def served_ips(self, ips: tuple[str, ...]) -> tuple[str, ...]:
        """World IPs as DNS gives them: unchanged in proxy mode, loopback addresses in direct mode."""
        if not self.ip_map:
            return ips
        return tuple(self.ip_map[ip] for ip in ips if ip in self.ip_map)
