"""The `kajitori` command.

`kajitori server` runs the control plane; `kajitori up` runs everything this machine needs (for
now the same as `server`; the node agent joins it in a later issue). Both create the PKI and the
admin kubeconfig on first start and find everything as it was on a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from kajitori.apiserver import server as apiserver
from kajitori.auth import authenticator as authn
from kajitori.auth import serviceaccount, tokenfile
from kajitori.pki import certs, kubeconfig, secureserving
from kajitori.storage import sqlite

log = logging.getLogger("kajitori")

DEFAULT_PORT = 6443
SERVICE_IP = "10.96.0.1"


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kajitori")
    return Path.home() / ".local" / "share" / "kajitori"


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where state, PKI and kubeconfig live (default: /var/lib/kajitori "
                             "as root, else ~/.local/share/kajitori)")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address the API server listens on (default 127.0.0.1)")
    parser.add_argument("--https-port", type=int, default=DEFAULT_PORT,
                        help="HTTPS port (default 6443; 0 picks a free one)")
    parser.add_argument("--write-kubeconfig", type=Path, default=None,
                        help="where to write the admin kubeconfig (default DIR/admin.kubeconfig)")
    parser.add_argument("--token-auth-file", type=Path, default=None,
                        help="static bearer tokens, CSV: token,user,uid,\"group1,group2\"")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kajitori", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_server_flags(commands.add_parser("server", help="run the control plane"))
    _add_server_flags(commands.add_parser("up", help="run a whole cluster on this machine"))
    return parser


@dataclass(frozen=True)
class Prepared:
    """What the server needs from disk, read before the event loop starts."""

    data_dir: Path
    pki: certs.PKIPaths
    kubeconfig: Path
    token_authenticators: list[authn.TokenAuthenticator]
    token_issuer: serviceaccount.TokenIssuer


def prepare(args: argparse.Namespace) -> Prepared:
    """Create the data directory and PKI on first start; load keys and token files."""
    data_dir: Path = (args.data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    extra = [] if args.bind_address in ("127.0.0.1", "0.0.0.0", "::") else [args.bind_address]
    pki = certs.ensure_pki(data_dir, hostname=socket.gethostname(), service_ip=SERVICE_IP,
                           extra_sans=extra)
    token_authenticators: list[authn.TokenAuthenticator] = [
        serviceaccount.ServiceAccountTokenAuthenticator(public_key_pem=pki.sa_pub.read_bytes())]
    if args.token_auth_file:
        token_authenticators.append(tokenfile.TokenFile.load(args.token_auth_file))
    return Prepared(data_dir=data_dir, pki=pki,
                    kubeconfig=args.write_kubeconfig or data_dir / "admin.kubeconfig",
                    token_authenticators=token_authenticators,
                    token_issuer=serviceaccount.TokenIssuer.from_files(pki.sa_key, pki.sa_pub))


async def serve(args: argparse.Namespace, prepared: Prepared, *, announce: bool) -> None:
    store = await sqlite.SQLiteStore.open(str(prepared.data_dir / "state.db"))
    advertise = "127.0.0.1" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
    server = apiserver.APIServer(
        store=store, ssl_context=secureserving.server_ssl_context(prepared.pki),
        authenticator=authn.Authenticator(token_authenticators=prepared.token_authenticators,
                                          anonymous=False),
        token_issuer=prepared.token_issuer,
        bind_address=args.bind_address, port=args.https_port, advertise_address=advertise)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with server.running():
            url = f"https://{advertise}:{server.port}"
            await asyncio.to_thread(kubeconfig.write_admin_kubeconfig, prepared.kubeconfig,
                                    server=url, pki=prepared.pki)
            log.info("serving the Kubernetes API on %s", url)
            if announce:
                print(f"Kajitori is up: the API server listens on {url}\n"
                      f"To use it:\n  export KUBECONFIG={prepared.kubeconfig}\n"
                      "  kubectl get namespaces", flush=True)
            await stop.wait()
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
                        format="%(levelname).1s%(asctime)s %(name)s] %(message)s",
                        stream=sys.stderr)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, prepare(args), announce=args.command == "up"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
