"""`mailcapture ingest` and `export values` on a clean database, as the issue's "done when"."""

from __future__ import annotations

import csv
import io
import json
import mailbox
from pathlib import Path

from openpyxl import load_workbook

from mailcapture.demo import clients
from tests.snapshots import run_cli

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
AMY = "Amy Lawson <amy.lawson@ashdown.example>"


def _request_for(outbox: Path, address: str) -> bytes:
    for path in sorted(outbox.glob("*-request.eml")):
        raw = path.read_bytes()
        if address in str(clients.parsed(raw)["To"]):
            return raw
    raise AssertionError(f"no request for {address}")


def test_ingest_folder_mbox_and_stdin_then_export(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli("init", env=cli_env).code == 0
    assert run_cli("load", env=cli_env).code == 0
    assert run_cli("tick", "--now", "2026-05-01T09:00", env=cli_env).code == 0
    outbox = Path(cli_env["MAILCAPTURE_MAIL_DIR"])
    kevin = _request_for(outbox, "kevin.walsh@ashdown.example")

    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "1-outlook.eml").write_bytes(
        clients.outlook_in_place(kevin, KEVIN, {"BV8a.1": "1,234", "BV8a.2": "=1+1"})
    )
    (replies / "2-gmail.eml").write_bytes(
        clients.gmail_top_posted(
            kevin, KEVIN, 'P09.M0: on schedule\nP09.M0 comment: =HYPERLINK("x") go-live in June'
        )
    )
    result = run_cli("ingest", str(replies), "--now", "2026-05-05T10:00", env=cli_env)
    assert result.code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all("processed: applied" in ln for ln in lines), result.stdout

    box = mailbox.mbox(tmp_path / "late.mbox")
    box.add(clients.phone(kevin, AMY, "BV8a.2: 1,300"))
    box.close()
    late = run_cli("ingest", str(tmp_path / "late.mbox"), "--now", "2026-05-20T10:00", env=cli_env)
    assert late.code == 0 and "processed: applied" in late.stdout, late.stdout + late.stderr

    exported = run_cli("export", "values", "--period", "April 2026", env=cli_env)
    assert exported.code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    got = {(r["code"], r["status"]): r for r in rows if r["source"] == "email"}
    assert got[("BV8a.1", "accepted")]["value"] == "1234"
    assert got[("BV8a.1", "accepted")]["submitted_by"] == "kevin.walsh@ashdown.example"
    assert got[("BV8a.1", "accepted")]["message_id"]
    rejected = got[("BV8a.2", "rejected")]
    assert rejected["raw_answer"] == "'=1+1"  # neutralised for spreadsheets
    assert got[("BV8a.2", "accepted")]["value"] == "1300"
    assert got[("BV8a.2", "accepted")]["late"] == "True"
    assert got[("BV8a.2", "accepted")]["on_behalf_of"] == "kevin.walsh@ashdown.example"
    assert got[("P09.M0", "accepted")]["value"] == "on track"
    assert {r["period"] for r in rows} == {"2026-04"}
    # Nothing the sender did not give: exactly these email rows.
    assert sorted(got) == [
        ("BV8a.1", "accepted"),
        ("BV8a.2", "accepted"),
        ("BV8a.2", "rejected"),
        ("P09.M0", "accepted"),
    ]

    as_json = json.loads(
        run_cli("export", "values", "--period", "2026-04", "--format", "json", env=cli_env).stdout
    )
    assert len(as_json) == len(rows)
    xlsx = tmp_path / "values.xlsx"
    assert (
        run_cli("export", "values", "--format", "xlsx", "--out", str(xlsx), env=cli_env).code == 0
    )
    sheet = load_workbook(xlsx).active
    cells = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=1+1" in cells and "=1+1" not in cells
    assert 1234 in cells

    listing = run_cli("messages", "--format", "csv", env=cli_env)
    messages = list(csv.DictReader(io.StringIO(listing.stdout)))
    assert len(messages) == 3
    assert {m["classification"] for m in messages} == {"human"}
    assert {m["outcome"] for m in messages} == {"applied"}


def test_stdin_and_unreadable_input(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli("init", env=cli_env).code == 0
    assert run_cli("load", env=cli_env).code == 0
    assert run_cli("tick", "--now", "2026-05-01T09:00", env=cli_env).code == 0
    kevin = _request_for(Path(cli_env["MAILCAPTURE_MAIL_DIR"]), "kevin.walsh@ashdown.example")
    piped = run_cli(
        "ingest",
        "--now",
        "2026-05-05T10:00",
        env=cli_env,
        stdin=clients.phone(kevin, KEVIN, "BV8a.1: 1,702"),
    )
    assert piped.code == 0 and piped.stdout.startswith("<stdin>: #1 processed: applied")
    empty = run_cli("ingest", env=cli_env, stdin=b"")
    assert empty.code != 0 and "standard input is empty" in empty.stderr
    missing = run_cli("ingest", str(tmp_path / "nope.eml"), env=cli_env)
    assert missing.code != 0
    assert missing.stderr.strip().splitlines() == [
        f"mailcapture: error: {tmp_path / 'nope.eml'}: no such file or folder"
    ]
