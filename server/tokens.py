"""Device tokens: who a device is and what it may do, signed so no device can forge another.

A token is an itsdangerous signature over {assembly, device, role, table}. It never expires on
its own: an assembly runs over several days and a tablet keeps its identity throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from rooms import Actor, Role

SALT = "samling.device.v1"


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
        self._signer = URLSafeSerializer(secret, salt=SALT)

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
