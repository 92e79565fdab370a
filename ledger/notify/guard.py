"""The outbound address guard: the notifier calls only public addresses, unless the rules'
``[outbound] allow`` names an address or network (a test's 127.0.0.1, an intranet robot
relay). A URL typed into a rules file must not make the ledger probe its own network
(server-side request forgery)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence


class BlockedAddress(Exception):
    """The target resolves to an address the guard refuses."""


def check_host(host: str, port: int, allow: Sequence[str]) -> None:
    """Raise :class:`BlockedAddress` when ``host`` resolves to a private, loopback,
    link-local, reserved or multicast address not in ``allow`` (or does not resolve)."""
    allowed = [ipaddress.ip_network(a, strict=False) for a in allow]
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise BlockedAddress(f"{host} does not resolve: {e}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _restricted(address):
            continue
        if any(address in network for network in allowed):
            continue
        raise BlockedAddress(
            f"{host} resolves to {address}, a private/loopback/link-local address: "
            "allow it in [outbound] allow to call it"
        )


def _restricted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
