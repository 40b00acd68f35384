"""Tell an ISP's MikroTik router about a contract's service state, through the RouterOS API.

WISPs that run MikroTik cut off subscribers who have not paid ("morosos") by putting their
address on a firewall address list, which the ISP's own firewall rules drop or redirect to a
"pay your bill" page. So a suspension adds the contract's address to that list, and a
reactivation takes it off again; the rules themselves stay the ISP's business. Speeds are
enforced with one simple queue per subscriber, so a plan change sets that queue's limits (or
creates the queue when the router has none for the address).

Every action reads before it writes, so a retried delivery leaves the router as one delivery
would: one list entry, one queue.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import librouteros
from librouteros.api import Api
from librouteros.exceptions import (
    ConnectionClosed,
    FatalError,
    LibRouterosError,
    MultiTrapError,
    TrapError,
)
from librouteros.types import ReplyDict

SUSPENDED = "contract.suspended"
REACTIVATED = "contract.reactivated"
PLAN_CHANGED = "contract.plan_changed"

ADDRESS_LIST = "/ip/firewall/address-list"
SIMPLE_QUEUE = "/queue/simple"


@dataclass(frozen=True)
class RouterAccess:
    """Where a router's API listens and who to log in as (8728 plain, 8729 API-SSL)."""

    host: str
    port: int
    username: str
    # Reprs end up in logs and error reports: keep the password out of them.
    password: str = field(repr=False)
    address_list: str = "morosos"
    use_tls: bool = False
    timeout: float = 10.0


class RouterError(Exception):
    """The router could not be reached or refused the command; the message never holds the
    password."""


class _Refused(Exception):
    """A command answered with !trap: carries which command, for the operator's message."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(command, message)
        self.command = command
        self.message = message


def router_event_apply(
    *,
    access: RouterAccess,
    event_type: str,
    address: str,
    comment: str,
    download_mbps: int | None = None,
    upload_mbps: int | None = None,
) -> None:
    """Make the router match one service change of the contract at `address`.

    Raises ValueError for an unknown event or bad arguments (before connecting) and
    RouterError when the router cannot be reached, rejects the login or refuses a command.
    """
    # Everything is checked before connecting: a bad event is a bug here, not a router fault,
    # and must not be retried against the router.
    host_address = _ipv4(address)
    if not access.address_list.isascii():
        raise ValueError(f"address list name is not plain ASCII: {access.address_list!r}")
    # RouterOS's API speaks bytes; non-ASCII comments (customer names: "Peña") would fail to
    # encode or show up garbled in Winbox, so they are folded to plain ASCII.
    comment = _ascii_fold(comment)
    action: Callable[[Api], None]
    if event_type == SUSPENDED:
        action = partial(
            _suspend, address_list=access.address_list, address=host_address, comment=comment
        )
    elif event_type == REACTIVATED:
        action = partial(_reactivate, address_list=access.address_list, address=host_address)
    elif event_type == PLAN_CHANGED:
        max_limit = _max_limit(download_mbps=download_mbps, upload_mbps=upload_mbps)
        action = partial(_queue_limit, address=host_address, name=comment, max_limit=max_limit)
    else:
        raise ValueError(f"unknown router event type: {event_type!r}")

    where = f"{access.host}:{access.port}"
    api = _connect(access, where=where)
    try:
        action(api)
    except _Refused as exc:
        raise RouterError(
            _scrub(f"{where}: router refused {exc.command}: {exc.message}", access.password)
        ) from None
    except (OSError, LibRouterosError) as exc:
        raise RouterError(_scrub(f"{where}: {_failure(exc)}", access.password)) from exc
    finally:
        # A half-dead socket may fail to close; the outcome is already decided by then.
        with contextlib.suppress(OSError):
            api.close()


def _suspend(api: Api, *, address_list: str, address: str, comment: str) -> None:
    # Adding twice would leave two entries, and a reactivation that then missed one would
    # keep a paying subscriber cut off: add only when absent.
    if _list_entries(api, address_list=address_list, address=address):
        return
    _run(
        api,
        f"{ADDRESS_LIST}/add",
        f"=list={address_list}",
        f"=address={address}",
        f"=comment={comment}",
    )


def _reactivate(api: Api, *, address_list: str, address: str) -> None:
    # Every entry goes, not just the first: duplicates added by hand would otherwise keep
    # the subscriber blocked after paying.
    for entry in _list_entries(api, address_list=address_list, address=address):
        _run(api, f"{ADDRESS_LIST}/remove", f"=.id={entry['.id']}")


def _list_entries(api: Api, *, address_list: str, address: str) -> list[ReplyDict]:
    entries = _run(
        api,
        f"{ADDRESS_LIST}/print",
        "=.proplist=.id,list,address",
        f"?list={address_list}",
        f"?address={address}",
    )
    # Checked again here: a router that ignored the query would otherwise hand back the
    # whole list, and a reactivation would unblock every moroso. (str(): librouteros turns
    # numeric-looking values, such as a list named "2024", into ints.)
    return [
        entry
        for entry in entries
        if str(entry.get("list")) == address_list and str(entry.get("address")) == address
    ]


def _queue_limit(api: Api, *, address: str, name: str, max_limit: str) -> None:
    # RouterOS shows a one-host target as "10.0.0.5/32"; older configs may hold the bare
    # address. Matching exactly keeps "10.0.0.50/32" out of "10.0.0.5"'s plan change. The
    # match is made here rather than by a query because target is a list-valued property,
    # and only a few fields per queue come back, so even thousands of queues are cheap.
    targets = {address, f"{address}/32"}
    queues = _run(api, f"{SIMPLE_QUEUE}/print", "=.proplist=.id,name,target")
    matching = [queue for queue in queues if str(queue.get("target", "")) in targets]
    if not matching:
        _run(
            api,
            f"{SIMPLE_QUEUE}/add",
            f"=name={name}",
            f"=target={address}/32",
            f"=max-limit={max_limit}",
        )
        return
    for queue in matching:
        _run(api, f"{SIMPLE_QUEUE}/set", f"=.id={queue['.id']}", f"=max-limit={max_limit}")


def _run(api: Api, command: str, *words: str) -> list[ReplyDict]:
    """One API command, read to its !done; a !trap becomes _Refused naming the command."""
    try:
        return list(api.rawCmd(command, *words))
    except (TrapError, MultiTrapError) as exc:
        raise _Refused(command, str(exc)) from exc


def _connect(access: RouterAccess, *, where: str) -> Api:
    ssl_wrapper = None
    if access.use_tls:
        # API-SSL (8729) with the system's trust store and host name check: the router needs
        # a certificate the portal trusts (RouterOS's certificate-less API-SSL is anonymous
        # Diffie-Hellman, which a default context rightly refuses).
        ssl_wrapper = partial(_tls_context().wrap_socket, server_hostname=access.host)
    try:
        return librouteros.connect(
            host=access.host,
            username=access.username,
            password=access.password,
            port=access.port,
            timeout=access.timeout,
            ssl_wrapper=ssl_wrapper,
        )
    except UnicodeEncodeError:
        # The encoder's message quotes the offending character of the password: say less.
        raise RouterError(f"{where}: user name or password is not plain ASCII") from None
    except (TrapError, MultiTrapError) as exc:
        # The only command connect() sends is /login.
        message = _scrub(f"{where}: login refused: {exc}", access.password)
        raise RouterError(message) from None
    except (OSError, LibRouterosError) as exc:
        raise RouterError(_scrub(f"{where}: {_failure(exc)}", access.password)) from exc


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _failure(exc: BaseException) -> str:
    """The kind of failure, in words an operator can act on."""
    if isinstance(exc, TimeoutError):
        return "timed out waiting for the router"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the API service enabled on that port?)"
    if isinstance(exc, socket.gaierror):
        return "host name could not be resolved"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or 'unknown reason'})"
    if isinstance(exc, ConnectionClosed | ConnectionResetError | BrokenPipeError):
        return "connection closed by the router"
    if isinstance(exc, FatalError):
        return f"router ended the session: {exc}"
    if isinstance(exc, LibRouterosError):
        return f"API protocol error: {exc}"
    return f"network error: {getattr(exc, 'strerror', None) or type(exc).__name__}"


def _scrub(message: str, password: str) -> str:
    # Belt and braces: nothing above should quote the password, but a router's message or a
    # future exception text might; it must never reach logs or the admin.
    return message.replace(password, "***") if password else message


def _ipv4(address: str) -> str:
    try:
        # str() first: a contract without an address arrives as None.
        return str(ipaddress.IPv4Address(str(address).strip()))
    except ValueError:
        # IPv6 lives in /ipv6/firewall/address-list and needs /128 targets: not handled yet.
        raise ValueError(f"not an IPv4 address: {address!r}") from None


def _max_limit(*, download_mbps: int | None, upload_mbps: int | None) -> str:
    for label, value in (("download_mbps", download_mbps), ("upload_mbps", upload_mbps)):
        # 0 would mean "unlimited" to RouterOS: never what a plan change means.
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{label} must be a positive whole number of Mb/s, not {value!r}")
    # RouterOS writes limits as upload/download, seen from the client.
    return f"{upload_mbps}M/{download_mbps}M"


def _ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    return without_marks.encode("ascii", "replace").decode("ascii")
