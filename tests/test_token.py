"""Sync tokens: what a remembered token reads as is what checking it gives."""

from __future__ import annotations

import pytest

from odoo_webhook_server.sync import token as sync_token
from odoo_webhook_server.sync.cursor import Cursor
from odoo_webhook_server.sync.errors import InvalidSyncToken, StaleSyncToken
from odoo_webhook_server.sync.position import Position, Snapshot
from odoo_webhook_server.sync.token import DatabaseIdentity, TokenClaims

IDENTITY = DatabaseIdentity("1f0e2d3c-0000-4000-8000-000000000001", "1733024000", b"k" * 32)
SHORT = Position(Snapshot(771, 774), Snapshot(774, 780, (775, 777)), Cursor(776, 9))
# Too long to go inline: the token names it by digest.
LONG = Position(
    Snapshot(100, 1000, tuple(range(101, 200))), Snapshot(100, 1000, tuple(range(101, 200)))
)


@pytest.mark.parametrize("position", [SHORT, LONG], ids=["inline", "digest"])
def test_a_minted_token_reads_back_as_a_fresh_check_reads_it(position: Position) -> None:
    claims = TokenClaims(12, 2, position)
    token = sync_token.mint(IDENTITY, claims)
    assert sync_token.mint(IDENTITY, claims) == token
    remembered = sync_token.read(IDENTITY, token)
    assert remembered == sync_token._read(IDENTITY, token)
    assert remembered.resolve(Position.parse("1:1:;1:1:;0:0"), position) == position


def test_a_remembered_token_is_refused_under_another_secret_or_copy() -> None:
    token = sync_token.mint(IDENTITY, TokenClaims(12, 2, SHORT))
    assert sync_token.read(IDENTITY, token).position == SHORT  # remembered now
    new_secret = DatabaseIdentity(IDENTITY.uuid, IDENTITY.epoch, b"z" * 32)
    with pytest.raises(InvalidSyncToken):
        sync_token.read(new_secret, token)
    copy = DatabaseIdentity(IDENTITY.uuid, "1733099999", IDENTITY.secret)
    with pytest.raises(StaleSyncToken):
        sync_token.read(copy, token)


def test_a_token_altered_after_being_remembered_is_refused() -> None:
    token = sync_token.mint(IDENTITY, TokenClaims(12, 2, SHORT))
    sync_token.read(IDENTITY, token)
    version, payload, signature = token.split(".")
    other = sync_token.mint(IDENTITY, TokenClaims(13, 2, SHORT)).split(".")[1]
    for forged in (f"{version}.{other}.{signature}", f"{version}.{payload}.{signature[:-2]}AA"):
        with pytest.raises(InvalidSyncToken):
            sync_token.read(IDENTITY, forged)
