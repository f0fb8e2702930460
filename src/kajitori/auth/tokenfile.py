"""Static bearer tokens from a CSV file: upstream's `--token-auth-file`.

Mirrors `staging/src/k8s.io/apiserver/pkg/authentication/token/tokenfile/tokenfile.go`: one record
per line, `token,user,uid[,"group1,group2"[,ignored...]]`; at least three columns or the file is
rejected; a record with an empty token is skipped; a later duplicate token wins. The file is read
once (upstream does not reload it either). `kajitori.auth.authenticator` asks it about the token of
an `Authorization: Bearer` header.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from pathlib import Path

from kajitori.auth import user

log = logging.getLogger(__name__)

MIN_COLUMNS = 3


class TokenFileError(ValueError):
    """The token file is malformed; the message is upstream's."""


def _digest(token: str) -> bytes:
    # Tokens are looked up by their SHA-256, so that the dict's key comparison reveals nothing
    # about a secret through timing (upstream compares in constant time for the same reason).
    return hashlib.sha256(token.encode()).digest()


class TokenFile:
    """The tokens of one file. `authenticate_token` is a pure in-memory lookup, safe on the event
    loop and from any thread."""

    def __init__(self, tokens: dict[str, user.UserInfo]) -> None:
        self._users = {_digest(token): info for token, info in tokens.items()}

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        """Read `path` (synchronous; small file). Raises OSError when it cannot be read and
        `TokenFileError` for a record with fewer than three columns or a CSV syntax error."""
        return cls.parse(path.read_text(), source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str) -> TokenFile:
        """Parse the file's contents; `source` names the file in error messages."""
        tokens: dict[str, user.UserInfo] = {}
        reader = csv.reader(io.StringIO(text), strict=True)
        try:
            records = [record for record in reader if record]  # blank lines are skipped
        except csv.Error as exc:
            raise TokenFileError(f"token file '{source}': {exc}") from exc
        for number, record in enumerate(records, start=1):
            if len(record) < MIN_COLUMNS:
                raise TokenFileError(
                    f"token file '{source}' must have at least 3 columns (token, user name, user "
                    f"uid), found {len(record)}")
            token, name, uid = record[0], record[1], record[2]
            if not token:
                log.warning("empty token has been found in token file '%s', record number '%d'",
                            source, number)
                continue
            if token in tokens:
                log.warning("duplicate token has been found in token file '%s', record number "
                            "'%d'", source, number)
            groups = tuple(record[3].split(",")) if len(record) > MIN_COLUMNS else ()
            tokens[token] = user.UserInfo(name, uid, groups)
        return cls(tokens)

    def authenticate_token(self, token: str) -> user.UserInfo | None:
        """The user the token belongs to, or None when it is not in the file."""
        return self._users.get(_digest(token))
