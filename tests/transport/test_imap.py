"""The IMAP poller against a real Dovecot on loopback (tests/dovecot.py), no mocks.

``store`` here is a plain callable that records what it was given, so these tests are
about the transport alone: exact bytes, the move (or keyword) only after ``store``
returned, retries, restarts, IDLE, reconnection, and the URL.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trustme

from mailcapture.transport.imap import (
    DONE_KEYWORD,
    ImapConfigError,
    ImapPoller,
    ImapSettings,
)
from tests.dovecot import DovecotServer, dovecot_fixture, dovecot_server, free_port

dovecot = dovecot_fixture()

# What a dropped connection looks like to the poller: imaplib's abort or a socket error.
CONNECTION_LOST = (imaplib.IMAP4.abort, OSError)

# Every capability Dovecot 2.3 announces after login, minus the ones a test takes away.
FULL_CAPS = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
    "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"
)


def caps_without(*names: str) -> str:
    return " ".join(c for c in FULL_CAPS.split() if c not in names)


def message(n: int, body: str = "") -> bytes:
    """A message as a mail server delivers it: CRLF lines, 8-bit UTF-8 in header and body."""
    return (
        f"Return-Path: <officer{n}@council.example>\r\n"
        f"From: Officer {n} <officer{n}@council.example>\r\n"
        "To: returns@mailcapture.example\r\n"
        f"Subject: =?utf-8?q?Caf=C3=A9?= return {n}\r\n"
        f"Message-ID: <{n}.return@council.example>\r\n"
        "Date: Tue, 5 May 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"BV8a.1: {1000 + n}\r\n"
        "Caf\u00e9 \u20ac42 \u2014 Ynys M\u00f4n\r\n"
        ".a line starting with a dot\r\n"
        "\r\n"
        f"{body}"
    ).encode()


class Recorder:
    """A ``store``: records (ref, raw); optional hooks to fail or act on the n-th call."""

    def __init__(self, on_call: Callable[[int, bytes, str], None] | None = None) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.attempts = 0
        self.on_call = on_call
        self.lock = threading.Lock()

    def __call__(self, raw: bytes, ref: str) -> None:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if self.on_call is not None:
            self.on_call(attempt, raw, ref)  # may raise: then nothing was "committed"
        with self.lock:
            self.calls.append((ref, raw))

    @property
    def raws(self) -> list[bytes]:
        with self.lock:
            return [raw for _, raw in self.calls]

    @property
    def refs(self) -> list[str]:
        with self.lock:
            return [ref for ref, _ in self.calls]


class Logs:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        with self.lock:
            self.lines.append((event, dict(fields)))

    def of(self, event: str) -> list[dict[str, Any]]:
        with self.lock:
            return [fields for name, fields in self.lines if name == event]

    def names(self) -> list[str]:
        with self.lock:
            return [name for name, _ in self.lines]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@contextmanager
def running(poller: ImapPoller, stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """``poller.run`` in a thread; stopped and joined (bounded) on the way out."""
    stop = stop or threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "run() did not return within 10 s of stop"


def poller_for(
    server: DovecotServer, store: Recorder, logs: Logs | None = None, **kwargs: Any
) -> ImapPoller:
    settings = ImapSettings.from_url(server.url(), kwargs.pop("processed_folder", None))
    return ImapPoller(settings, store, on_log=logs, **kwargs)


def body_of(n: int) -> bytes:
    return f"BV8a.1: {1000 + n}".encode()


# ------------------------------------------------------------------------ basics


def test_messages_are_stored_byte_for_byte_then_moved_unseen(dovecot: DovecotServer) -> None:
    big = "".join(f"line {i:05d} " + "x" * 60 + "\r\n" for i in range(20_000))  # ~1.5 MB
    originals = [message(1), message(2, body=big), message(3, body="no final newline")]
    uids = [dovecot.append(raw) for raw in originals]
    uidvalidity = dovecot.uidvalidity()
    store, logs = Recorder(), Logs()
    poller = poller_for(dovecot, store, logs)
    try:
        assert poller.poll_once() == 3
        assert poller.poll_once() == 0  # nothing is handed over twice
    finally:
        poller.close()

    assert store.raws == originals  # exact bytes, in UID order
    assert store.refs == [f"imap:{uidvalidity}:{uid}" for uid in uids]
    assert dovecot.messages("INBOX") == {}
    assert sorted(dovecot.messages("Processed").values()) == sorted(originals)
    # BODY.PEEK[]: nobody has read them, so a person looking at the folder still sees new mail.
    assert all(b"\\Seen" not in flags for flags in dovecot.flags("Processed").values())
    assert [f["uid"] for f in logs.of("imap.stored")] == uids
    assert [f["bytes"] for f in logs.of("imap.stored")] == [len(raw) for raw in originals]
    assert [f["uid"] for f in logs.of("imap.moved")] == uids
    assert logs.of("imap.processed_folder_created") == [{"folder": "Processed"}]


def test_the_move_happens_only_after_store_returned(dovecot: DovecotServer) -> None:
    seen_in_inbox: list[bool] = []

    def check(attempt: int, raw: bytes, ref: str) -> None:
        # While store runs, the message must still be in INBOX (not moved, not flagged).
        seen_in_inbox.append(raw in dovecot.messages("INBOX").values())
        assert dovecot.flags("INBOX") and all(
            DONE_KEYWORD.encode() not in f for f in dovecot.flags("INBOX").values()
        )

    for n in range(3):
        dovecot.append(message(n))
    store = Recorder(check)
    poller = poller_for(dovecot, store)
    try:
        assert poller.poll_once() == 3
    finally:
        poller.close()
    assert seen_in_inbox == [True, True, True]
    assert len(dovecot.messages("Processed")) == 3


def test_a_failing_store_leaves_the_message_to_be_stored_next_poll(
    dovecot: DovecotServer,
) -> None:
    def database_down_once(attempt: int, raw: bytes, ref: str) -> None:
        if attempt == 2:
            raise RuntimeError("database is down")

    originals = [message(n) for n in range(3)]
    uids = [dovecot.append(raw) for raw in originals]
    store, logs = Recorder(database_down_once), Logs()
    poller = poller_for(dovecot, store, logs)
    try:
        assert poller.poll_once() == 2
        # The failed one is still in INBOX, neither moved nor flagged, and not \Seen.
        assert dovecot.messages("INBOX") == {uids[1]: originals[1]}
        assert dovecot.flags("INBOX") == {uids[1]: ()}
        [failure] = logs.of("imap.store_failed")
        assert failure["uid"] == uids[1]
        assert "database is down" in failure["error"]

        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert store.raws == [originals[0], originals[2], originals[1]]
    assert dovecot.messages("INBOX") == {}
    assert sorted(dovecot.messages("Processed").values()) == sorted(originals)


def test_flagged_deleted_messages_are_left_alone(dovecot: DovecotServer) -> None:
    deleted_uid = dovecot.append(message(1), flags=["\\Deleted"])  # somebody deleted it
    dovecot.append(message(2))
    store = Recorder()
    poller = poller_for(dovecot, store)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert store.raws == [message(2)]
    assert list(dovecot.messages("INBOX")) == [deleted_uid]  # not ours to expunge


# ------------------------------------------------------------------ restarts


def test_stopping_and_starting_a_new_poller_misses_and_repeats_nothing(
    dovecot: DovecotServer,
) -> None:
    """A graceful stop after 7 of 20: the 7th is finished (moved) before run() returns."""
    originals = [message(n) for n in range(20)]
    for raw in originals:
        dovecot.append(raw)
    stop = threading.Event()

    def stop_after_seven(attempt: int, raw: bytes, ref: str) -> None:
        if attempt == 7:
            stop.set()  # e.g. SIGTERM arrives while the 7th message is in hand

    first = Recorder(stop_after_seven)
    poller = poller_for(dovecot, first)
    with running(poller, stop):
        assert wait_until(lambda: len(first.calls) == 7)
    assert first.raws == originals[:7]
    assert len(dovecot.messages("Processed")) == 7  # the one in hand was moved too
    assert len(dovecot.messages("INBOX")) == 13

    second = Recorder()
    poller = poller_for(dovecot, second)
    with running(poller):
        assert wait_until(lambda: len(second.calls) == 13)
        time.sleep(0.3)  # give it a chance to (wrongly) store anything again
    assert second.raws == originals[7:]
    assert first.raws + second.raws == originals  # all 20, each exactly once
    assert dovecot.messages("INBOX") == {}


def test_a_crash_between_store_and_move_stores_only_that_message_again(
    dovecot: DovecotServer,
) -> None:
    """The honest limit: delivery is at least once. If the connection dies after ``store``
    returned but before the move, a new poller stores that one message again (the
    pipeline records it as a duplicate; see test_imap_pipeline). Nothing is missed."""
    originals = [message(n) for n in range(10)]
    for raw in originals:
        dovecot.append(raw)

    def crash_after_fifth(attempt: int, raw: bytes, ref: str) -> None:
        if attempt == 5:
            dovecot.stop()  # the server (and our connection) goes away right after commit

    first = Recorder(crash_after_fifth)
    poller = poller_for(dovecot, first)
    with pytest.raises(CONNECTION_LOST):
        poller.poll_once()
    poller.close()
    assert first.raws == originals[:5]

    dovecot.start()
    assert len(dovecot.messages("Processed")) == 4
    second = Recorder()
    poller = poller_for(dovecot, second)
    try:
        assert poller.poll_once() == 6
    finally:
        poller.close()
    assert second.raws == originals[4:]  # the 5th again, then the rest
    assert sorted(set(first.raws + second.raws)) == sorted(originals)
    assert dovecot.messages("INBOX") == {}


def test_the_same_poller_moves_without_storing_again_after_a_lost_connection(
    dovecot: DovecotServer,
) -> None:
    """Within one poller, a message stored but not moved is only moved on the next poll."""
    originals = [message(n) for n in range(3)]
    for raw in originals:
        dovecot.append(raw)

    def crash_after_second(attempt: int, raw: bytes, ref: str) -> None:
        if attempt == 2:
            dovecot.stop()

    store = Recorder(crash_after_second)
    poller = poller_for(dovecot, store)
    try:
        with pytest.raises(CONNECTION_LOST):
            poller.poll_once()
        dovecot.start()
        assert poller.poll_once() == 1  # only the third is new
    finally:
        poller.close()
    assert store.raws == originals  # the second was not stored twice
    assert dovecot.messages("INBOX") == {}
    assert len(dovecot.messages("Processed")) == 3


# ---------------------------------------------------------------- the run loop


def test_idle_wakes_the_loop_when_a_message_arrives(dovecot: DovecotServer) -> None:
    store, logs = Recorder(), Logs()
    # Without IDLE the next look would be 60 s away: only an EXISTS can make it quick.
    poller = poller_for(dovecot, store, logs, idle_timeout=60, poll_interval=60)
    with running(poller) as stop:
        assert wait_until(lambda: logs.of("imap.waiting"), timeout=5)
        assert logs.of("imap.waiting")[-1]["how"] == "idle"
        started = time.monotonic()
        dovecot.append(message(1))
        assert wait_until(lambda: store.raws == [message(1)], timeout=5)
        assert time.monotonic() - started < 5
        assert logs.of("imap.idle_woken")
        assert wait_until(lambda: dovecot.messages("INBOX") == {}, timeout=5)
        assert wait_until(lambda: len(logs.of("imap.waiting")) >= 2, timeout=5)
        stopping = time.monotonic()
        stop.set()
    assert time.monotonic() - stopping < 3  # checks the event at least every second
    assert logs.names()[-1] == "imap.stopped"


without_idle_move_uidplus = dovecot_fixture(capabilities=caps_without("IDLE", "MOVE", "UIDPLUS"))
without_move = dovecot_fixture(capabilities=caps_without("MOVE"))


def test_without_idle_the_loop_polls_every_interval(
    without_idle_move_uidplus: DovecotServer,
) -> None:
    server = without_idle_move_uidplus
    store, logs = Recorder(), Logs()
    poller = poller_for(server, store, logs, idle_timeout=60, poll_interval=0.5)
    with running(poller):
        assert wait_until(lambda: logs.of("imap.waiting"), timeout=5)
        assert logs.of("imap.waiting")[-1] == {"how": "sleep", "seconds": 0.5}
        server.append(message(1))
        assert wait_until(lambda: store.raws == [message(1)], timeout=5)
        assert wait_until(lambda: server.messages("INBOX") == {}, timeout=5)
    assert logs.of("imap.connected")[0]["idle"] is False
    assert not logs.of("imap.idle_woken")


def test_copy_delete_and_plain_expunge_without_move_or_uidplus(
    without_idle_move_uidplus: DovecotServer,
) -> None:
    """Old servers: COPY, \\Deleted and a plain EXPUNGE (which, as documented, also removes
    a message somebody else had flagged \\Deleted)."""
    server = without_idle_move_uidplus
    server.append(message(1), flags=["\\Deleted"])
    server.append(message(2))
    store, logs = Recorder(), Logs()
    poller = poller_for(server, store, logs)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert store.raws == [message(2)]
    assert list(server.messages("Processed").values()) == [message(2)]
    assert server.messages("INBOX") == {}
    assert logs.of("imap.connected")[0]["move"] is False


def test_copy_delete_and_uid_expunge_without_move(without_move: DovecotServer) -> None:
    """With UIDPLUS only our message is expunged; somebody's \\Deleted one stays."""
    other = without_move.append(message(1), flags=["\\Deleted"])
    without_move.append(message(2))
    store, logs = Recorder(), Logs()
    poller = poller_for(without_move, store, logs)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert list(without_move.messages("Processed").values()) == [message(2)]
    assert list(without_move.messages("INBOX")) == [other]
    assert logs.of("imap.connected")[0] | {"server": None} == {
        "server": None,
        "idle": True,
        "move": False,
        "uidplus": True,
        "marking": "move",
    }


def test_reconnects_and_carries_on_after_the_server_restarts(dovecot: DovecotServer) -> None:
    store, logs = Recorder(), Logs()
    poller = poller_for(dovecot, store, logs, idle_timeout=60)
    with running(poller):
        assert wait_until(lambda: logs.of("imap.waiting"))
        dovecot.append(message(1))
        assert wait_until(lambda: store.raws == [message(1)])
        assert wait_until(lambda: len(logs.of("imap.waiting")) >= 2)  # back in IDLE

        dovecot.stop()  # the poller is in IDLE: its connection drops
        assert wait_until(lambda: logs.of("imap.connection_failed"))
        time.sleep(2)  # down for a while: the poller keeps retrying, backing off
        dovecot.start()  # same port, same mail folder
        dovecot.append(message(2))
        assert wait_until(lambda: store.raws == [message(1), message(2)], timeout=15)
        assert wait_until(lambda: dovecot.messages("INBOX") == {})
    delays = [f["retry_in"] for f in logs.of("imap.connection_failed")]
    assert delays[:2] == [1.0, 2.0]
    assert len(logs.of("imap.connected")) == 2
    assert len(dovecot.messages("Processed")) == 2


def test_backoff_doubles_up_to_the_maximum_and_stop_ends_it() -> None:
    """Nothing listens on the port: every connect is refused. A recording ``sleep``
    stands in for time so the whole schedule runs in milliseconds."""
    settings = ImapSettings.from_url(f"imap://u:p@127.0.0.1:{free_port()}/INBOX?timeout=2")
    logs = Logs()
    stop = threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if sum(slept) >= 1 + 2 + 4 + 8 + 10 + 10 + 10:
            stop.set()

    poller = ImapPoller(settings, Recorder(), on_log=logs, sleep=sleep, max_backoff=10)
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert [f["retry_in"] for f in logs.of("imap.connection_failed")] == [1, 2, 4, 8, 10, 10, 10]
    assert [f["attempt"] for f in logs.of("imap.connection_failed")] == [1, 2, 3, 4, 5, 6, 7]
    assert max(slept) <= 1.0  # the stop event is looked at at least every second
    assert "ConnectionRefusedError" in logs.of("imap.connection_failed")[0]["error"]


# ------------------------------------------------------- when moving is not allowed

# Dovecot's ACL plugin with a global ACL file: the account may read, flag and add
# messages but not create folders (no "k") nor expunge (no "t", "e"), which is what a
# locked-down shared mailbox looks like.
no_create = dovecot_fixture(acl="* user=capture@example.test lrwsi")
no_expunge = dovecot_fixture(
    acl="INBOX user=capture@example.test lrwsi\nProcessed user=capture@example.test lrwstipekxa"
)
read_only = dovecot_fixture(acl="* user=capture@example.test lr")


def test_keyword_when_the_processed_folder_cannot_be_created(no_create: DovecotServer) -> None:
    originals = [message(n) for n in range(3)]
    uids = [no_create.append(raw) for raw in originals]
    store, logs = Recorder(), Logs()
    poller = poller_for(no_create, store, logs)
    try:
        assert poller.poll_once() == 3
        assert poller.poll_once() == 0  # flagged ones are skipped
        later = no_create.append(message(9))
        assert poller.poll_once() == 1
    finally:
        poller.close()
    [unavailable] = logs.of("imap.processed_folder_unavailable")
    assert "NOPERM" in unavailable["error"]
    assert store.raws == [*originals, message(9)]
    flags = no_create.flags("INBOX")
    assert set(flags) == {*uids, later}
    assert all(f == (DONE_KEYWORD.encode(),) for f in flags.values())  # no \Seen either

    fresh = Recorder()  # the keyword is on the server: a new poller skips them too
    poller = poller_for(no_create, fresh)
    try:
        assert poller.poll_once() == 0
    finally:
        poller.close()


def test_keyword_when_the_server_refuses_the_move(no_expunge: DovecotServer) -> None:
    with no_expunge.session() as client:
        client.create_folder("Processed")
    originals = [message(n) for n in range(2)]
    for raw in originals:
        no_expunge.append(raw)
    store, logs = Recorder(), Logs()
    poller = poller_for(no_expunge, store, logs)
    try:
        assert poller.poll_once() == 2
        assert poller.poll_once() == 0
    finally:
        poller.close()
    [failed] = logs.of("imap.move_failed")  # once; then keywords for this connection
    assert "NOPERM" in failed["error"]
    assert len(logs.of("imap.flagged")) == 2
    assert no_expunge.messages("Processed") == {}
    assert all(DONE_KEYWORD.encode() in f for f in no_expunge.flags("INBOX").values())


def test_a_read_only_folder_is_stored_once_per_poller(read_only: DovecotServer) -> None:
    """Nothing can be marked at all: this poller remembers what it stored; a new one
    stores it again (the pipeline records a duplicate). Said in the log, not hidden."""
    for sub in ("new", "cur", "tmp"):  # the account cannot APPEND; deliver like an MDA
        (read_only.maildir / sub).mkdir(parents=True, exist_ok=True)
    (read_only.maildir / "new" / "1.delivered").write_bytes(message(1).replace(b"\r\n", b"\n"))
    _chown_tree(read_only)

    store, logs = Recorder(), Logs()
    poller = poller_for(read_only, store, logs)
    try:
        assert poller.poll_once() == 1
        assert poller.poll_once() == 0
    finally:
        poller.close()
    assert store.raws == [message(1)]  # Dovecot serves Maildir files with CRLF
    assert logs.of("imap.read_only") == [{"folder": "INBOX"}]
    assert len(logs.of("imap.unmarked")) == 1

    again = Recorder()
    poller = poller_for(read_only, again)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()


def _chown_tree(server: DovecotServer) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("nobody")
    for path in [server.mail_root, *server.mail_root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


# --------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("imap-tls")
    paths = {name: str(folder / f"{name}.pem") for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    leaf.cert_chain_pems[0].write_to_path(paths["cert"])
    leaf.private_key_pem.write_to_path(paths["key"])
    return paths


@pytest.fixture
def tls_dovecot(certificates: dict[str, str]) -> Iterator[DovecotServer]:
    with dovecot_server(tls=(certificates["cert"], certificates["key"])) as server:
        yield server


@pytest.mark.parametrize(
    ("implicit", "query"),
    [
        (True, "cafile={ca}"),
        (True, "verify=0"),
        (False, "starttls=1&cafile={ca}"),
        (False, "starttls=1&verify=0"),
    ],
)
def test_tls_and_starttls(
    tls_dovecot: DovecotServer, certificates: dict[str, str], implicit: bool, query: str
) -> None:
    url = tls_dovecot.url(query=query.format(ca=certificates["ca"]), implicit_tls=implicit)
    settings = ImapSettings.from_url(url)
    assert settings.security == ("tls" if implicit else "starttls")
    tls_dovecot.append(message(1))
    store = Recorder()
    poller = ImapPoller(settings, store)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert store.raws == [message(1)]


def test_an_untrusted_certificate_is_refused(tls_dovecot: DovecotServer) -> None:
    tls_dovecot.append(message(1))
    store = Recorder()
    poller = ImapPoller(ImapSettings.from_url(tls_dovecot.url(implicit_tls=True)), store)
    with pytest.raises(ssl.SSLCertVerificationError):
        poller.poll_once()
    assert store.calls == []


def test_starttls_required_but_not_offered_is_an_error(dovecot: DovecotServer) -> None:
    settings = ImapSettings.from_url(dovecot.url(query="starttls=1&verify=0"))
    logs = Logs()
    stop = threading.Event()

    def on_log(event: str, fields: dict[str, Any]) -> None:
        logs(event, fields)
        if event == "imap.connection_failed":
            stop.set()

    ImapPoller(settings, Recorder(), on_log=on_log, sleep=lambda s: None).run(stop)
    [failure] = logs.of("imap.connection_failed")
    assert "does not offer STARTTLS" in failure["error"]
    assert not logs.of("imap.connected")


# ----------------------------------------------------------- credentials and URL

ODD_PASSWORD = "p@ss/w%rd +#?x&y=z"  # everything a URL needs escaped (':' cannot be in
UNICODE_PASSWORD = "p\u00e4ssw\u00f6rd"  # a passwd-file); non-ASCII needs AUTHENTICATE


@pytest.mark.parametrize("password", [ODD_PASSWORD, UNICODE_PASSWORD])
def test_percent_encoded_credentials_log_in(password: str) -> None:
    users = [("capture@example.test", "s3cret"), ("returns@example.test", password)]
    with dovecot_server(users=users) as server:
        url = server.url(user="returns@example.test")
        assert "%40" in url  # the @ of the user name is encoded
        settings = ImapSettings.from_url(url)
        assert (settings.username, settings.password) == ("returns@example.test", password)
        poller = ImapPoller(settings, Recorder())
        try:
            assert poller.poll_once() == 0
        finally:
            poller.close()


SECRET = "Hunter2-SECRET"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"imap://capture%40example.test:{SECRET}@127.0.0.1/INBOX",
            ("127.0.0.1", 143, "none", "capture@example.test", "INBOX", True, 60.0),
        ),
        (
            f"imap://u:{SECRET}@localhost:1143",
            ("localhost", 1143, "none", "u", "INBOX", True, 60.0),
        ),
        (
            f"imap://u:{SECRET}@[::1]:1143/",
            ("::1", 1143, "none", "u", "INBOX", True, 60.0),
        ),
        (
            f"imap://u:{SECRET}@mail.council.example/INBOX?starttls=1",
            ("mail.council.example", 143, "starttls", "u", "INBOX", True, 60.0),
        ),
        (
            f"imap://u:{SECRET}@mail.council.example/INBOX?starttls=yes&verify=0&timeout=5",
            ("mail.council.example", 143, "starttls", "u", "INBOX", False, 5.0),
        ),
        (
            f"imaps://u:{SECRET}@mail.council.example/INBOX",
            ("mail.council.example", 993, "tls", "u", "INBOX", True, 60.0),
        ),
        (
            f"IMAPS://u:{SECRET}@mail.council.example:10993/Council%20Returns?verify=0",
            ("mail.council.example", 10993, "tls", "u", "Council Returns", False, 60.0),
        ),
        (
            f"imaps://u:{SECRET}@mail.council.example/Returns/2026-27",
            ("mail.council.example", 993, "tls", "u", "Returns/2026-27", True, 60.0),
        ),
        (
            f"imaps://u:{SECRET}@mail.council.example/Gw%C3%A1ith",
            ("mail.council.example", 993, "tls", "u", "Gw\u00e1ith", True, 60.0),
        ),
        (
            "imaps://capture%40council.example:p%40ss%2Fw%25rd%20%2B%23%3F@mail.council.example",
            ("mail.council.example", 993, "tls", "capture@council.example", "INBOX", True, 60.0),
        ),
    ],
)
def test_url_forms(url: str, expected: tuple[object, ...]) -> None:
    s = ImapSettings.from_url(url)
    assert (s.host, s.port, s.security, s.username, s.folder, s.verify, s.timeout) == expected
    assert s.processed_folder == "Processed"
    assert s.password in (SECRET, "p@ss/w%rd +#?")
    for shown in (repr(s), str(s), s.describe()):
        assert s.password not in shown
    assert ":***@" in s.describe()


def test_url_processed_folder_and_cafile() -> None:
    s = ImapSettings.from_url(
        f"imaps://u:{SECRET}@mail.council.example/Returns?cafile=/etc/ssl/council-ca.pem",
        processed_folder="Returns/Done",
    )
    assert (s.folder, s.processed_folder, s.cafile) == (
        "Returns",
        "Returns/Done",
        "/etc/ssl/council-ca.pem",
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (f"imap://u:{SECRET}@mail.council.example/INBOX", "unencrypted to a non-local host"),
        (f"imap://u:{SECRET}@10.0.0.5/INBOX?starttls=0", "unencrypted to a non-local host"),
        (f"http://u:{SECRET}@127.0.0.1/", "scheme must be imap:// or imaps://"),
        (f"imap+ssl://u:{SECRET}@127.0.0.1/", "scheme must be imap:// or imaps://"),
        (f"imaps://u:{SECRET}@mail.council.example/?starttls=1", "does not apply to imaps"),
        (f"imap://u:{SECRET}@127.0.0.1:99999/", "bad port"),
        (f"imap://u:{SECRET}@127.0.0.1:0/", "out of range"),
        (f"imap://u:{SECRET}@127.0.0.1:imap/", "bad port"),
        # An unencoded '/', '?' or '#' in the password breaks the URL apart; the error must
        # not quote the pieces (urllib's own message would).
        (f"imap://u:{SECRET[:6]}/{SECRET[6:]}@127.0.0.1/", "malformed"),
        (f"imap://u:{SECRET[:6]}?{SECRET[6:]}@127.0.0.1/", "malformed"),
        (f"imaps://u:x@mail.council.example/?{SECRET}=1", "unknown IMAP URL option"),
        (f"imap://u:{SECRET[:6]}#{SECRET[6:]}@127.0.0.1/", "malformed"),
        (f"imaps://u:{SECRET}@mail.council.example/#{SECRET}", "#fragment"),
        ("imap://127.0.0.1/INBOX", "needs a user name and a password"),
        ("imap://capture@127.0.0.1/INBOX", "needs a user name and a password"),
        (f"imap://:{SECRET}@127.0.0.1/INBOX", "needs a user name and a password"),
        (f"imaps://u:{SECRET}@/INBOX", "no host"),
        (f"imaps://u:{SECRET}@mail.council.example/?verify=maybe", "must be 1 or 0"),
        (f"imaps://u:{SECRET}@mail.council.example/?verify={SECRET}", "must be 1 or 0"),
        (f"imaps://u:{SECRET}@mail.council.example/?verify=", "has no value"),
        (f"imaps://u:{SECRET}@mail.council.example/?verify=0&verify=1", "given twice"),
        (f"imaps://u:{SECRET}@mail.council.example/?timeout=-1", "positive number"),
        (f"imaps://u:{SECRET}@mail.council.example/?timeout=nan", "positive number"),
        (f"imap://u:{SECRET}@127.0.0.1/?verify=0", "only apply with imaps"),
        (f"imaps://u:{SECRET}@mail.council.example/Processed", "must differ"),
        (f"imaps://u:{SECRET}%0D%0ALOGOUT@mail.council.example/", "line breaks"),
        (f"imaps://u:{SECRET}@mail.council.example/IN%0ABOX", "line break"),
        (f"imaps://u:{SECRET}@mail_council!/", "characters no host"),
    ],
)
def test_url_errors_say_why_in_one_line_without_the_password(url: str, reason: str) -> None:
    with pytest.raises(ImapConfigError) as caught:
        ImapSettings.from_url(url)
    message_text = str(caught.value)
    assert reason in message_text
    assert "\n" not in message_text
    for piece in (SECRET, SECRET[:6], SECRET[6:]):
        assert piece not in message_text
        assert piece not in repr(caught.value)
    # urllib's own error (which may quote the URL) is never chained into tracebacks.
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_password_is_never_in_a_log_line_or_error(dovecot: DovecotServer) -> None:
    """A wrong password: the login failure is logged (with back-off), the password is not."""
    wrong = "Wr0ng-SECRET-pw"
    settings = ImapSettings.from_url(dovecot.url(password=wrong))
    stop = threading.Event()
    lines: list[tuple[str, dict[str, Any]]] = []

    def on_log(event: str, fields: dict[str, Any]) -> None:
        lines.append((event, fields))
        if event == "imap.connection_failed":
            stop.set()

    ImapPoller(settings, Recorder(), on_log=on_log, sleep=lambda s: None).run(stop)
    assert [e for e, _ in lines] == ["imap.connection_failed", "imap.stopped"]
    assert "AUTHENTICATIONFAILED" in lines[0][1]["error"]
    assert wrong not in repr(lines)
    assert wrong not in repr(settings)


def test_settings_are_checked_when_built_directly() -> None:
    with pytest.raises(ImapConfigError, match="non-local"):
        ImapSettings("mail.council.example", 143, "none", "u", SECRET)
    with pytest.raises(ImapConfigError, match="security"):
        ImapSettings("127.0.0.1", 143, "ssl", "u", SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_timeout"):
        ImapPoller(ImapSettings("127.0.0.1", 143, "none", "u", SECRET), Recorder(), idle_timeout=0)
    settings = ImapSettings("127.0.0.1", 143, "none", "u", SECRET)
    assert SECRET not in repr(settings)
