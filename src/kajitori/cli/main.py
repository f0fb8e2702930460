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
from pathlib import Path

from kajitori.apiserver import server as apiserver
from kajitori.auth import authenticator as authn
from kajitori.auth import tokenfile
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


async def serve(args: argparse.Namespace, *, announce: bool) -> None:
    data_dir: Path = (args.data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    hostname = socket.gethostname()
    extra = [] if args.bind_address in ("127.0.0.1", "0.0.0.0", "::") else [args.bind_address]
    pki = await asyncio.to_thread(certs.ensure_pki, data_dir, hostname=hostname,
                                  service_ip=SERVICE_IP, extra_sans=extra)
    tokens = tokenfile.TokenFile.load(args.token_auth_file) if args.token_auth_file else None
    store = await sqlite.SQLiteStore.open(str(data_dir / "state.db"))
    advertise = "127.0.0.1" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
    server = apiserver.APIServer(
        store=store, ssl_context=secureserving.server_ssl_context(pki),
        authenticator=authn.Authenticator(token_authenticators=[tokens] if tokens else [],
                                          anonymous=False),
        bind_address=args.bind_address, port=args.https_port, advertise_address=advertise)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with server.running():
            url = f"https://{advertise}:{server.port}"
            path = args.write_kubeconfig or data_dir / "admin.kubeconfig"
            await asyncio.to_thread(kubeconfig.write_admin_kubeconfig, path, server=url,
                                    pki=pki)
            log.info("serving the Kubernetes API on %s", url)
            if announce:
                print(f"Kajitori is up: the API server listens on {url}\n"
                      f"To use it:\n  export KUBECONFIG={path}\n  kubectl get namespaces",
                      flush=True)
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
        asyncio.run(serve(args, announce=args.command == "up"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
