"""A fake MikroTik router for tests: speaks the real RouterOS API protocol over TCP.

Words are length-prefixed with RouterOS's variable-length encoding and sentences end with an
empty word, so whatever talks to this server (librouteros, through billing.routeros) talks to
it exactly as it would to a router. The router's state is plain lists of dicts that a test
reads and seeds: `address_list` (/ip/firewall/address-list) and `queues` (/queue/simple);
`commands` holds every sentence received, without the password.

Supported: the post-6.43 plain login (`/login =name= =password=`, librouteros 4's default;
the old md5 challenge login is not implemented), print/add/remove/set on both menus, queries
(`?name=value`, `?=name=value`, `?name`, `?-name`, `?<name=v`, `?>name=v`, `?#` operators),
`=.proplist=`, `.tag`, `/quit`, and API-SSL given a server-side `ssl_context`. Failures on
demand: `fail_next = n` answers the next n commands (not logins) with !trap `fail_message`,
as does every command whose path is in `refuse` (e.g. {"/queue/simple/set"}); `drop_next = n`
closes the connection instead of answering the next n commands.

    with FakeRouterOS(username="portal", password="s3cret") as router:
        ...  # connect to router.host:router.port
"""

from __future__ import annotations

import contextlib
import io
import itertools
import socket
import ssl
import threading
from collections.abc import Callable, Iterable

Entry = dict[str, str]

LOGIN_FAILED = "invalid user name or password (6)"
NO_SUCH_COMMAND = "no such command prefix"
NO_SUCH_ITEM = "no such item"


class ProtocolError(Exception):
    """A byte stream that is not the RouterOS API."""


# -- the wire format ------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    """RouterOS's length prefix: 1 to 5 bytes, the high bits of the first saying how many."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length < 0x100000000:
        return b"\xf0" + length.to_bytes(4, "big")
    raise ValueError(f"length {length} does not fit the RouterOS API")


def decode_length(read: Callable[[int], bytes]) -> int:
    """Read one length prefix with `read(n)` (which returns exactly n bytes)."""
    first = read(1)[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        return int.from_bytes(bytes([first & 0x3F]) + read(1), "big")
    if first < 0xE0:
        return int.from_bytes(bytes([first & 0x1F]) + read(2), "big")
    if first < 0xF0:
        return int.from_bytes(bytes([first & 0x0F]) + read(3), "big")
    if first == 0xF0:
        return int.from_bytes(read(4), "big")
    # 0xF8-0xFF are reserved for control bytes, which RouterOS does not send.
    raise ProtocolError(f"unknown length control byte 0x{first:02X}")


def encode_word(word: str | bytes) -> bytes:
    data = word.encode() if isinstance(word, str) else word
    return encode_length(len(data)) + data


def read_word(read: Callable[[int], bytes]) -> bytes:
    length = decode_length(read)
    return read(length) if length else b""


def encode_sentence(words: Iterable[str | bytes]) -> bytes:
    return b"".join(encode_word(word) for word in words) + b"\x00"


def read_sentence(read: Callable[[int], bytes]) -> list[str]:
    words: list[str] = []
    while word := read_word(read):
        words.append(word.decode("utf-8", "replace"))
    return words


def bytes_reader(data: bytes) -> Callable[[int], bytes]:
    """A `read(n)` over bytes, for decoding captured traffic; EOFError when it runs out."""
    stream = io.BytesIO(data)

    def read(count: int) -> bytes:
        chunk = stream.read(count)
        if len(chunk) != count:
            raise EOFError
        return chunk

    return read


def socket_reader(sock: socket.socket) -> Callable[[int], bytes]:
    def read(count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = sock.recv(min(count - len(chunks), 1 << 20))
            if not chunk:
                raise EOFError
            chunks += chunk
        return bytes(chunks)

    return read


# -- queries -----------------------------------------------------------------------------


def query_matches(entry: Entry, queries: list[str]) -> bool:
    """RouterOS's query stack: each `?` word pushes a result or combines the top ones; an
    entry matches when everything left on the stack is true."""
    stack: list[bool] = []
    for query in queries:
        body = query[1:]
        if body.startswith("#"):
            for op in body[1:]:
                if op == "!":
                    stack.append(not stack.pop())
                elif op in "&|":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left and right if op == "&" else left or right)
                elif op == ".":
                    stack.append(stack[-1])
                else:
                    raise ProtocolError(f"unsupported query operation {op!r}")
        elif body.startswith("-"):
            stack.append(body[1:] not in entry)
        elif body[:1] in ("<", ">"):
            name, _, value = body[1:].partition("=")
            have = entry.get(name)
            stack.append(have is not None and (have < value if body[0] == "<" else have > value))
        elif "=" in body.lstrip("="):
            name, _, value = body.lstrip("=").partition("=")
            stack.append(entry.get(name) == value)
        else:
            stack.append(body in entry)
    return all(stack)


# -- the server ---------------------------------------------------------------------------


class _Trap(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FakeRouterOS:
    """A RouterOS API server on 127.0.0.1 and a free port, served from background threads."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "",
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.host = host
        # API-SSL: a server-side context with the router's certificate loaded.
        self.ssl_context = ssl_context
        self.port = 0
        self.address_list: list[Entry] = []
        self.queues: list[Entry] = []
        self.commands: list[tuple[str, ...]] = []
        self.fail_next = 0
        self.fail_message = "failure: simulated by the test"
        self.refuse: set[str] = set()
        self.drop_next = 0
        self.connections_opened = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()

    # lifecycle

    def start(self) -> FakeRouterOS:
        self._listener = socket.create_server((self.host, 0))
        # accept() waking up now and then is what lets stop() end the loop on every platform.
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="fake-routeros", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        # No new connection after this, so every open one can be woken and waited for.
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
            self._accept_thread = None
        with self._lock:
            clients = list(self._open)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> FakeRouterOS:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def new_id(self) -> str:
        """An id as RouterOS writes them ("*1", "*A"); also for seeding entries in tests."""
        return f"*{next(self._ids):X}"

    # connections

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._open.add(client)
                self.connections_opened += 1
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        raw = client
        logged_in = False
        try:
            if self.ssl_context is not None:
                try:
                    client = self.ssl_context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # e.g. the client did not trust the certificate
                with self._lock:
                    self._open.discard(raw)
                    self._open.add(client)
            read = socket_reader(client)
            while True:
                try:
                    words = read_sentence(read)
                except (EOFError, OSError):
                    return
                if not words:
                    continue  # an empty sentence is ignored, as RouterOS does
                command, tag, attrs, queries = self._parse(words)
                with self._lock:
                    self.commands.append(tuple(w for w in words if not w.startswith("=password=")))
                if command == "/quit":
                    self._send(client, [["!fatal", "session terminated on request"]], tag)
                    return
                if command == "/login":
                    if attrs.get("name") == self.username and attrs.get("password") == (
                        self.password
                    ):
                        logged_in = True
                        self._send(client, [["!done"]], tag)
                        continue
                    self._send(client, [["!trap", f"=message={LOGIN_FAILED}"], ["!done"]], tag)
                    return
                if not logged_in:
                    self._send(client, [["!trap", "=message=not logged in"], ["!done"]], tag)
                    continue
                with self._lock:
                    if self.drop_next > 0:
                        self.drop_next -= 1
                        return  # vanish mid-command, like a router rebooting
                self._send(client, self._answer(command, attrs, queries), tag)
        finally:
            with self._lock:
                self._open.discard(raw)
                self._open.discard(client)
            client.close()

    @staticmethod
    def _parse(words: list[str]) -> tuple[str, str | None, dict[str, str], list[str]]:
        command, tag, attrs, queries = words[0], None, {}, []
        for word in words[1:]:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")
                if key == ".tag":
                    tag = value
                else:
                    attrs[key] = value
            elif word.startswith(".tag="):
                tag = word.removeprefix(".tag=")
            elif word.startswith("?"):
                queries.append(word)
        return command, tag, attrs, queries

    @staticmethod
    def _send(client: socket.socket, sentences: list[list[str]], tag: str | None) -> None:
        data = b"".join(
            encode_sentence([*sentence, *([f".tag={tag}"] if tag is not None else [])])
            for sentence in sentences
        )
        with contextlib.suppress(OSError):  # the client is gone; its loss
            client.sendall(data)

    # commands

    def _answer(self, command: str, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        menus = {"/ip/firewall/address-list": self.address_list, "/queue/simple": self.queues}
        menu, _, verb = command.rpartition("/")
        table = menus.get(menu)
        handler = {
            "print": self._print,
            "add": self._add,
            "set": self._set,
            "remove": self._remove,
        }.get(verb)
        with self._lock:
            try:
                if table is None or handler is None:
                    raise _Trap(NO_SUCH_COMMAND)
                if command in self.refuse:
                    raise _Trap(self.fail_message)
                if self.fail_next > 0:
                    self.fail_next -= 1
                    raise _Trap(self.fail_message)
                return handler(menu, table, attrs, queries)
            except _Trap as trap:
                return [["!trap", f"=message={trap.message}"], ["!done"]]
            except (ProtocolError, IndexError):
                return [["!trap", "=message=invalid query"], ["!done"]]

    def _print(
        self, menu: str, table: list[Entry], attrs: dict[str, str], queries: list[str]
    ) -> list[list[str]]:
        wanted = attrs.get(".proplist")
        keys = wanted.split(",") if wanted else None
        replies = []
        for entry in table:
            if query_matches(entry, queries):
                shown = entry if keys is None else {k: entry[k] for k in keys if k in entry}
                replies.append(["!re", *(f"={key}={value}" for key, value in shown.items())])
        return [*replies, ["!done"]]

    def _add(
        self, menu: str, table: list[Entry], attrs: dict[str, str], queries: list[str]
    ) -> list[list[str]]:
        if menu == "/ip/firewall/address-list":
            if not attrs.get("list") or not attrs.get("address"):
                raise _Trap("failure: list and address must be set")
            if any(e["list"] == attrs["list"] and e["address"] == attrs["address"] for e in table):
                raise _Trap("failure: already have such entry")
            entry = {"list": "", "address": "", "disabled": "false", "dynamic": "false"}
        else:
            if not attrs.get("target"):
                raise _Trap("failure: target must be set")
            entry = {"name": f"queue{len(table) + 1}", "target": "", "max-limit": "0/0"}
            entry["disabled"] = "false"
            if any(e.get("name") == attrs.get("name") for e in table):
                raise _Trap("failure: already have queue with such name")
        entry = {".id": self.new_id(), **entry, **attrs}
        table.append(entry)
        return [["!done", f"=ret={entry['.id']}"]]

    def _set(
        self, menu: str, table: list[Entry], attrs: dict[str, str], queries: list[str]
    ) -> list[list[str]]:
        changes = {k: v for k, v in attrs.items() if k not in (".id", "numbers")}
        for entry in self._items(table, attrs):
            entry.update(changes)
        return [["!done"]]

    def _remove(
        self, menu: str, table: list[Entry], attrs: dict[str, str], queries: list[str]
    ) -> list[list[str]]:
        for entry in self._items(table, attrs):
            table.remove(entry)
        return [["!done"]]

    @staticmethod
    def _items(table: list[Entry], attrs: dict[str, str]) -> list[Entry]:
        """The entries named by `.id` or `numbers` (comma-separated); all or none."""
        ids = (attrs.get(".id") or attrs.get("numbers") or "").split(",")
        by_id = {entry[".id"]: entry for entry in table}
        if not ids or any(i not in by_id for i in ids):
            raise _Trap(NO_SUCH_ITEM)
        return [by_id[i] for i in ids]
