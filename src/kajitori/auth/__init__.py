"""Authentication (client certificates, bearer tokens, anonymous) and authorization."""

from kajitori.auth.authenticator import Authenticator, TokenAuthenticator
from kajitori.auth.authorizer import (
    Attributes,
    Authorizer,
    Decision,
    MastersOnlyAuthorizer,
    forbidden,
    forbidden_message,
)
from kajitori.auth.tokenfile import TokenFile, TokenFileError
from kajitori.auth.user import UserInfo
from kajitori.auth.x509 import peer_certificate

__all__ = [
    "Attributes",
    "Authenticator",
    "Authorizer",
    "Decision",
    "MastersOnlyAuthorizer",
    "TokenAuthenticator",
    "TokenFile",
    "TokenFileError",
    "UserInfo",
    "forbidden",
    "forbidden_message",
    "peer_certificate",
]
