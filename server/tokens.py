"""Device tokens: who a device is and what it may do, signed so no device can forge another.

A token is an itsdangerous signature over {assembly, device, role, table}. It never expires on
its own: an assembly runs over several days and a tablet keeps its identity throughout.

The organiser's token (which may create assemblies from the browser's /new page) is a signature
with its own salt over a fixed payload, made with the same secret: the server prints it at
start, and it changes only when the secret does. A device token is never an organiser token,
nor the other way round, since the salts differ.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from itsdangerous import BadData, BadSignature, URLSafeSerializer

from rooms import Actor, Role

SALT = "samling.device.v1"
ORGANISER_SALT = "samling.organiser.v1"
ORGANISER = "organiser"


LABEL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # the join codes' alphabet: no 0/O, 1/I


@functools.lru_cache(maxsize=65536)
def device_label(device: str) -> str:
    """Four characters a person can read off a tablet and find on the facilitator's list (to
    remove a device that should not be there). Derived from the device id, never the id itself:
    the id is what a token signs, and a label tells nothing that opens anything."""
    digest = hashlib.blake2b(device.encode(), digest_size=4).digest()
    return "".join(LABEL_ALPHABET[b % len(LABEL_ALPHABET)] for b in digest)


@dataclass(frozen=True, slots=True)
class Claims:
    assembly: str
    device: str
    role: Role
    table: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.device, self.role, self.table)


class Tokens:
    def __init__(self, secret: str) -> None:
        self.secret = secret  # kept to put it back into a store that lost it (see Hub.check_epoch)
        self._signer = URLSafeSerializer(secret, salt=SALT)
        self._organiser = URLSafeSerializer(secret, salt=ORGANISER_SALT)

    def issue(self, claims: Claims) -> str:
        return self._signer.dumps([claims.assembly, claims.device, str(claims.role), claims.table])

    def read(self, token: object) -> Claims | None:
        """The claims of a genuine token, or None for anything else."""
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            a, d, r, t = self._signer.loads(token)
            return Claims(str(a), str(d), Role(r), None if t is None else str(t))
        except (BadSignature, ValueError, TypeError):
            return None

    def organiser(self) -> str:
        """The organiser's token: it may create assemblies (POST /api/assemblies)."""
        return self._organiser.dumps(ORGANISER)

    def is_organiser(self, token: object) -> bool:
        if not isinstance(token, str) or len(token) > 512:
            return False
        try:
            return bool(self._organiser.loads(token) == ORGANISER)
        except BadData:
            return False
