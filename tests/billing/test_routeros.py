"""The MikroTik adapter, against a fake router that speaks the real RouterOS API protocol:
what an ISP's operator would see on the router after each service change."""

import datetime
import ipaddress
import socket
import ssl
import time

import librouteros
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from librouteros import protocol as librouteros_protocol
from librouteros.exceptions import TrapError

from billing import routeros
from billing.routeros import RouterAccess, RouterError, router_event_apply
from tests.billing.routeros_server import (
    FakeRouterOS,
    bytes_reader,
    decode_length,
    encode_length,
    encode_sentence,
    encode_word,
    read_sentence,
    read_word,
    socket_reader,
)

USERNAME = "portal"
PASSWORD = "Tr0ub4dor&3-router"
ADDRESS = "10.20.0.5"


@pytest.fixture
def router():
    with FakeRouterOS(username=USERNAME, password=PASSWORD) as server:
        yield server


def access_to(server: FakeRouterOS, **changes) -> RouterAccess:
    values = {
        "host": server.host,
        "port": server.port,
        "username": USERNAME,
        "password": PASSWORD,
        "timeout": 5.0,
    }
    return RouterAccess(**(values | changes))


def suspend(server: FakeRouterOS, address: str = ADDRESS, comment: str = "Contrato 1042") -> None:
    router_event_apply(
        access=access_to(server),
        event_type="contract.suspended",
        address=address,
        comment=comment,
    )


def reactivate(server: FakeRouterOS, address: str = ADDRESS) -> None:
    router_event_apply(
        access=access_to(server),
        event_type="contract.reactivated",
        address=address,
        comment="Contrato 1042",
    )


def change_plan(server: FakeRouterOS, *, download: int = 10, upload: int = 5) -> None:
    router_event_apply(
        access=access_to(server),
        event_type="contract.plan_changed",
        address=ADDRESS,
        comment="Contrato 1042",
        download_mbps=download,
        upload_mbps=upload,
    )


def seed(table: list, server: FakeRouterOS, **entry: str) -> dict:
    row = {".id": server.new_id(), **entry}
    table.append(row)
    return row


def listed(server: FakeRouterOS, name: str = "morosos") -> list[tuple[str, str]]:
    return [(e["address"], e.get("comment", "")) for e in server.address_list if e["list"] == name]


def wait_until_closed(server: FakeRouterOS) -> bool:
    deadline = time.monotonic() + 2
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.open_connections == 0


# -- suspension ----------------------------------------------------------------------------


def test_suspension_puts_the_address_on_the_morosos_list(router):
    suspend(router)

    assert listed(router) == [(ADDRESS, "Contrato 1042")]
    assert wait_until_closed(router)


def test_suspending_twice_leaves_one_entry(router):
    suspend(router)
    suspend(router)

    assert listed(router) == [(ADDRESS, "Contrato 1042")]
    adds = [c for c in router.commands if c[0] == "/ip/firewall/address-list/add"]
    assert len(adds) == 1


def test_suspension_uses_the_routers_own_list_name_and_leaves_other_lists_alone(router):
    seed(router.address_list, router, list="clientes", address=ADDRESS, comment="lan")

    router_event_apply(
        access=access_to(router, address_list="cortados"),
        event_type="contract.suspended",
        address=ADDRESS,
        comment="Contrato 7",
    )

    assert listed(router, "cortados") == [(ADDRESS, "Contrato 7")]
    assert listed(router, "clientes") == [(ADDRESS, "lan")]


def test_a_comment_with_accents_reaches_winbox_as_plain_ascii(router):
    suspend(router, comment="José Peña Muñoz")

    assert listed(router) == [(ADDRESS, "Jose Pena Munoz")]


# -- reactivation --------------------------------------------------------------------------


def test_reactivation_takes_the_address_off_the_list(router):
    suspend(router)
    reactivate(router)

    assert listed(router) == []


def test_reactivation_removes_every_entry_for_the_address_and_nothing_else(router):
    seed(router.address_list, router, list="morosos", address=ADDRESS, comment="a mano")
    seed(router.address_list, router, list="morosos", address=ADDRESS, comment="otra vez")
    seed(router.address_list, router, list="morosos", address="10.20.0.50", comment="vecino")
    seed(router.address_list, router, list="clientes", address=ADDRESS, comment="lan")

    reactivate(router)

    assert listed(router) == [("10.20.0.50", "vecino")]
    assert listed(router, "clientes") == [(ADDRESS, "lan")]


def test_reactivating_an_address_that_is_not_listed_is_fine(router):
    reactivate(router)

    assert router.address_list == []
    assert not [c for c in router.commands if c[0].endswith("/remove")]


# -- plan change ---------------------------------------------------------------------------


def test_plan_change_sets_the_subscribers_queue_upload_first(router):
    queue = seed(
        router.queues,
        router,
        name="Contrato 1042",
        target=f"{ADDRESS}/32",
        **{"max-limit": "3M/6M"},
    )

    change_plan(router, download=10, upload=5)

    assert router.queues == [queue]
    assert queue["max-limit"] == "5M/10M"
    assert queue["name"] == "Contrato 1042"


def test_plan_change_finds_a_queue_whose_target_is_the_bare_address(router):
    queue = seed(router.queues, router, name="q", target=ADDRESS, **{"max-limit": "1M/1M"})

    change_plan(router)

    assert len(router.queues) == 1
    assert queue["max-limit"] == "5M/10M"


def test_plan_change_leaves_a_neighbours_queue_with_a_similar_address_alone(router):
    neighbour = seed(
        router.queues, router, name="vecino", target="10.20.0.50/32", **{"max-limit": "2M/4M"}
    )

    change_plan(router)

    assert neighbour["max-limit"] == "2M/4M"
    ours = [q for q in router.queues if q is not neighbour]
    assert [(q["name"], q["target"], q["max-limit"]) for q in ours] == [
        ("Contrato 1042", f"{ADDRESS}/32", "5M/10M")
    ]


def test_plan_change_creates_the_queue_when_the_router_has_none(router):
    change_plan(router, download=10, upload=5)

    assert [(q["name"], q["target"], q["max-limit"]) for q in router.queues] == [
        ("Contrato 1042", f"{ADDRESS}/32", "5M/10M")
    ]
    change_plan(router, download=20, upload=10)
    assert [q["max-limit"] for q in router.queues] == ["10M/20M"]


# -- bad input is refused before the router is bothered ------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"event_type": "contract.cancelled"}, "unknown router event"),
        ({"address": "not-an-ip"}, "IPv4"),
        ({"address": "2001:db8::5"}, "IPv4"),
        ({"address": None}, "IPv4"),
        ({"event_type": "contract.plan_changed", "download_mbps": 10}, "upload_mbps"),
        (
            {"event_type": "contract.plan_changed", "download_mbps": 0, "upload_mbps": 5},
            "download_mbps",
        ),
    ],
)
def test_bad_arguments_raise_value_error_without_connecting(router, changes, match):
    arguments = {
        "access": access_to(router),
        "event_type": "contract.suspended",
        "address": ADDRESS,
        "comment": "Contrato 1042",
    }
    with pytest.raises(ValueError, match=match):
        router_event_apply(**(arguments | changes))
    assert router.connections_opened == 0


# -- failures ------------------------------------------------------------------------------


def test_a_wrong_password_is_a_router_error_that_does_not_quote_it(router):
    wrong = "n0t-the-Password!"
    with pytest.raises(RouterError) as caught:
        router_event_apply(
            access=access_to(router, password=wrong),
            event_type="contract.suspended",
            address=ADDRESS,
            comment="Contrato 1042",
        )

    message = str(caught.value)
    assert f"127.0.0.1:{router.port}" in message
    assert "login refused" in message
    assert "invalid user name or password" in message
    assert wrong not in message and PASSWORD not in message
    assert wrong not in repr(access_to(router, password=wrong))
    assert router.address_list == []
    assert all(wrong not in word for command in router.commands for word in command)


def test_a_router_that_is_not_listening_is_a_router_error_within_the_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on that port any more.
    access = RouterAccess(
        host="127.0.0.1", port=port, username=USERNAME, password=PASSWORD, timeout=2.0
    )

    started = time.monotonic()
    with pytest.raises(RouterError, match=f"127.0.0.1:{port}: connection refused"):
        router_event_apply(
            access=access, event_type="contract.suspended", address=ADDRESS, comment="c"
        )
    assert time.monotonic() - started < 2.0


def test_a_router_that_never_answers_is_a_router_error_after_the_timeout():
    # Accepts connections (the kernel does, from the backlog) and never says a word.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        access = RouterAccess(
            host="127.0.0.1", port=port, username=USERNAME, password=PASSWORD, timeout=0.5
        )
        started = time.monotonic()
        with pytest.raises(RouterError, match="timed out"):
            router_event_apply(
                access=access, event_type="contract.reactivated", address=ADDRESS, comment="c"
            )
        assert time.monotonic() - started < 3


def test_a_trap_from_the_router_is_a_router_error_naming_the_command(router):
    router.fail_next = 1
    router.fail_message = "failure: out of memory"

    with pytest.raises(RouterError) as caught:
        suspend(router)

    message = str(caught.value)
    assert f"127.0.0.1:{router.port}: router refused" in message
    assert "/ip/firewall/address-list/print" in message
    assert "failure: out of memory" in message
    assert router.address_list == []
    assert wait_until_closed(router)


def test_a_trap_on_the_write_is_a_router_error_too(router):
    queue = seed(router.queues, router, name="q", target=f"{ADDRESS}/32", **{"max-limit": "1M/1M"})
    router.refuse = {"/queue/simple/set"}  # e.g. a dynamic queue, which cannot be set

    with pytest.raises(RouterError, match="/queue/simple/set: failure: simulated"):
        change_plan(router)
    assert queue["max-limit"] == "1M/1M"


def test_a_router_that_drops_the_connection_mid_command_is_a_router_error(router):
    router.drop_next = 1

    with pytest.raises(RouterError, match="connection closed by the router"):
        reactivate(router)


# -- API-SSL -------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, as an ISP might put on its router."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "router.crt", tmp_path / "router.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_router(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with FakeRouterOS(username=USERNAME, password=PASSWORD, ssl_context=context) as server:
        yield server


def test_api_ssl_with_a_trusted_certificate(tls_router, certificate, monkeypatch):
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    monkeypatch.setattr(routeros, "_tls_context", lambda: trusting)

    router_event_apply(
        access=access_to(tls_router, use_tls=True),
        event_type="contract.suspended",
        address=ADDRESS,
        comment="Contrato 1042",
    )

    assert listed(tls_router) == [(ADDRESS, "Contrato 1042")]


def test_api_ssl_refuses_a_certificate_nobody_vouched_for(tls_router):
    with pytest.raises(RouterError, match="TLS certificate not trusted"):
        router_event_apply(
            access=access_to(tls_router, use_tls=True),
            event_type="contract.suspended",
            address=ADDRESS,
            comment="Contrato 1042",
        )
    assert tls_router.address_list == []


# -- the fake speaks the real protocol -----------------------------------------------------


@pytest.mark.parametrize(
    ("length", "prefix"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x80"),
        (16383, b"\xbf\xff"),
        (16384, b"\xc0\x40\x00"),
        (2_097_152, b"\xe0\x20\x00\x00"),
    ],
)
def test_word_lengths_round_trip_in_the_routeros_encoding(length, prefix):
    word = bytes(i % 251 for i in range(length))
    encoded = encode_word(word)

    assert encoded[: len(prefix)] == prefix
    assert read_word(bytes_reader(encoded)) == word
    # And an independent implementation (the client's) agrees on the prefix both ways.
    assert librouteros_protocol.encode_length(length) == prefix
    extra = librouteros_protocol.determine_length(prefix[:1])
    assert librouteros_protocol.decode_length(prefix[: 1 + extra]) == length


def test_the_five_byte_length_form():
    assert encode_length(0x10000000) == b"\xf0\x10\x00\x00\x00"
    assert decode_length(bytes_reader(b"\xf0\x10\x00\x00\x00")) == 0x10000000
    assert decode_length(bytes_reader(encode_length(0xFFFFFFFF))) == 0xFFFFFFFF


@pytest.mark.parametrize("length", [16384, 2_097_152])
def test_long_words_cross_the_wire_both_ways(router, length):
    comment = "x" * length
    suspend(router, comment=comment)
    assert listed(router) == [(ADDRESS, comment)]

    api = librouteros.connect(router.host, USERNAME, PASSWORD, port=router.port, timeout=5)
    try:
        rows = list(api.path("ip", "firewall", "address-list"))
    finally:
        api.close()
    assert [row["comment"] for row in rows] == [comment]


def test_tags_and_unknown_commands_answered_as_routeros_does(router):
    with socket.create_connection((router.host, router.port), timeout=5) as sock:
        read = socket_reader(sock)
        sock.sendall(encode_sentence(["/login", f"=name={USERNAME}", f"=password={PASSWORD}"]))
        assert read_sentence(read) == ["!done"]

        sock.sendall(encode_sentence(["/ip/firewall/address-list/print", ".tag=7"]))
        assert read_sentence(read) == ["!done", ".tag=7"]

        sock.sendall(encode_sentence(["/interface/wireless/frobnicate"]))
        assert read_sentence(read) == ["!trap", "=message=no such command prefix"]
        assert read_sentence(read) == ["!done"]

    assert ("/login", f"=name={USERNAME}") in router.commands


def test_queries_are_evaluated_like_routeros(router):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        seed(router.address_list, router, list="morosos", address=address)
    api = librouteros.connect(router.host, USERNAME, PASSWORD, port=router.port, timeout=5)
    try:
        key = librouteros.query.Key("address")
        either = router_query(api, key.In("10.0.0.1", "10.0.0.3"))
        not_two = router_query(api, key != "10.0.0.2")
        with pytest.raises(TrapError, match="no such command prefix"):
            tuple(api("/ip/firewall/nonsense/print"))
    finally:
        api.close()
    assert either == ["10.0.0.1", "10.0.0.3"]
    assert not_two == ["10.0.0.1", "10.0.0.3"]


def router_query(api, condition) -> list[str]:
    address = librouteros.query.Key("address")
    rows = api.path("ip", "firewall", "address-list").select(address).where(condition)
    return sorted(str(row["address"]) for row in rows)
