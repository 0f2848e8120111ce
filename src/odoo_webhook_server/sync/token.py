"""The opaque sync token handed to a device in `next_sync_token`.

A token names the database that minted it (Odoo's `database.uuid` plus an
epoch that changes when the database is copied or restored into another
cluster), the device state it belongs to, and a cursor; it is signed with
HMAC-SHA256 under Odoo's `database.secret`, so it cannot be forged.
The engine then checks the cursor against the state's acknowledged and
issued positions, which catches tokens minted by a restored or copied
history even when uuid and epoch agree.

Layout: ``v2.<base64url payload>.<base64url signature>``, the payload being
``uuid:epoch:state_id:user_id:<position>`` (sync/position.py's text form:
two snapshots and the last event). A position too long for a token of at
most 512 characters (many transactions were running when it was cut) goes as
``#<digest>`` of its text instead, which the engine looks up among the
positions the device's state holds. Tokens of servers before commit-order
delivery, ``v1`` with ``txid:event_id`` in place of the position, are still
read: their cursor converts to the same position, so no device resyncs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from .cursor import Cursor
from .errors import InvalidSyncToken, StaleSyncToken
from .position import START, Position

__all__ = ["DatabaseIdentity", "TokenClaims", "mint", "position_digest", "read"]

_VERSION = "v2"
_LEGACY_VERSION = "v1"
_SIGNATURE_BYTES = 16


@dataclass(frozen=True)
class DatabaseIdentity:
    uuid: str
    epoch: str
    secret: bytes


# Longer position texts go as a digest: the token stays under 512 characters.
_INLINE_POSITION_CHARS = 250


@dataclass(frozen=True)
class TokenClaims:
    state_id: int
    user_id: int
    position: Position
    # Read from a token naming its position by digest: `position` is then a
    # placeholder and the engine resolves the digest (see `resolve`).
    position_digest: str | None = None

    def resolve(self, *candidates: Position) -> Position | None:
        """The position the token names, among `candidates` when it carries
        a digest; None when it is none of them."""
        if self.position_digest is None:
            return self.position
        return next((p for p in candidates if position_digest(p) == self.position_digest), None)


def position_digest(position: Position) -> str:
    return hashlib.sha256(position.text().encode("ascii")).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(identity: DatabaseIdentity, payload: bytes) -> bytes:
    return hmac.new(identity.secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


# Every pull reads the token its device got last and mints the next one;
# most are tokens this process minted or read a moment before. Both are pure
# functions of their inputs, so each is remembered (bounded): a re-poll
# costs two lookups instead of two HMACs. A token that fails its checks is
# never remembered.
_MEMO_SIZE = 16_384
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Memo(Generic[_K, _V]):
    """At most `size` entries, the oldest one dropped first: a token is
    used again soon after it is made or read, or not at all, so first in,
    first out does as well as least recently used, at a fraction of the
    cost per entry (an OrderedDict in C)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        return self._entries.get(key)

    def put(self, key: _K, value: _V) -> _V:
        entries = self._entries
        if len(entries) >= self.size:
            entries.popitem(last=False)
        entries[key] = value
        return value


_minted: _Memo[tuple[DatabaseIdentity, int, int, str], str] = _Memo(_MEMO_SIZE)
_verified: _Memo[tuple[DatabaseIdentity, str], TokenClaims] = _Memo(_MEMO_SIZE)


def mint(identity: DatabaseIdentity, claims: TokenClaims) -> str:
    text = claims.position.text()
    key = (identity, claims.state_id, claims.user_id, text)
    token = _minted.get(key)
    if token is None:
        inline = len(text) <= _INLINE_POSITION_CHARS
        where = text if inline else "#" + position_digest(claims.position)
        payload = ":".join(
            (identity.uuid, identity.epoch, str(claims.state_id), str(claims.user_id), where)
        ).encode("ascii")
        token = _minted.put(key, f"{_VERSION}.{_b64(payload)}.{_b64(_sign(identity, payload))}")
        # What `read` will make of it, when the device sends it back.
        _verified.put(
            (identity, token),
            TokenClaims(claims.state_id, claims.user_id, claims.position)
            if inline
            else TokenClaims(claims.state_id, claims.user_id, START, where[1:]),
        )
    return token


def read(identity: DatabaseIdentity, token: str) -> TokenClaims:
    """Check a token's origin and signature; the caller checks the claims."""
    claims = _verified.get((identity, token))
    if claims is None:
        claims = _verified.put((identity, token), _read(identity, token))
    return claims


def _read(identity: DatabaseIdentity, token: str) -> TokenClaims:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] not in (_VERSION, _LEGACY_VERSION):
        raise InvalidSyncToken("sync_token is malformed")
    try:
        payload = _unb64(parts[1])
        signature = _unb64(parts[2])
        if parts[0] == _LEGACY_VERSION:
            uuid, epoch, state_id, user_id, txid, event_id = payload.decode("ascii").split(":")
            claims = TokenClaims(
                int(state_id), int(user_id), Position.of_cursor(Cursor(int(txid), int(event_id)))
            )
        else:
            uuid, epoch, state_id, user_id, where = payload.decode("ascii").split(":", 4)
            if where.startswith("#"):
                if len(where) != 33:
                    raise ValueError("malformed position digest")
                claims = TokenClaims(int(state_id), int(user_id), START, where[1:])
            else:
                claims = TokenClaims(int(state_id), int(user_id), Position.parse(where))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidSyncToken("sync_token is malformed") from None
    if (uuid, epoch) != (identity.uuid, identity.epoch):
        # Checked before the signature: another copy of the database has
        # another secret too, and the device needs to hear "resync", not "forged".
        raise StaleSyncToken(
            "sync_token was issued by another copy of this database "
            "(it was duplicated or restored); reset the sync state (position=head),"
            " then reload your data"
        )
    if not hmac.compare_digest(signature, _sign(identity, payload)):
        raise InvalidSyncToken("sync_token was not issued by this server")
    return claims
