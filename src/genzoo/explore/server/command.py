"""`genzoo explore RUN [RUN ...]`: the command's arguments and handler (torch and Starlette load lazily).

    add_explore_command(commands)   adds the `explore` subparser to the CLI's subparsers
    run_explore(args)               loads the runs, prints the address, serves until Ctrl-C
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8731


def add_explore_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    explore = commands.add_parser(
        "explore", help="the runs as a live page in the browser: latent sliders, paths, arithmetic, drawing, the GAN game",
        description="Serve a page that explores the given runs (and nothing else on disk) with the tools each model's "
                    "capabilities allow; the live GAN game is always there.")
    explore.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or checkpoint files); non-run folders are skipped")
    explore.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only; "
                         "0.0.0.0 shares the page with the network, without any authentication)")
    explore.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    explore.add_argument("--which", choices=("best", "last"), default="best",
                         help="checkpoint of each run (default best, as `genzoo sample`; last where a run has no best)")
    explore.add_argument("--device", default="cpu", help="cpu (default), cuda, mps")
    explore.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    explore.add_argument("--open", action="store_true", help="open the page in the default browser")
    return explore


def run_explore(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    missing = [name for name, module in (("starlette", "starlette"), ("uvicorn", "uvicorn"), ("python-multipart", "python_multipart"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"genzoo explore needs {', '.join(missing)}: pip install 'genzoo[explore]'")
    listener = bind(args.host, args.port)  # before loading: a busy port fails at once
    import torch
    import uvicorn

    from genzoo.explore.server.app import create_app

    if args.threads:
        torch.set_num_threads(args.threads)
    app = create_app(args.runs, device=args.device, which=args.which, log=lambda line: print(line, flush=True))
    host, port = listener.getsockname()[:2]
    address = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if args.host not in LOCAL_HOSTS:
        print(f"warning: serving on {args.host}: anyone who can reach this machine can use the page and the runs' models "
              "(no authentication); use the default --host 127.0.0.1 to keep it local", file=sys.stderr, flush=True)
        address = f"http://{socket.gethostname()}:{port}/ (bound to {args.host})"
    print(f"genzoo explore: {address}  (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(f"http://127.0.0.1:{port}/" if args.host in ("0.0.0.0", "::") else address.split()[0])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ConfigError naming the fix when the port is taken."""
    from genzoo.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose proto says TCP,
    # and with it on, a response's header and body segments wait ~40 ms for a delayed ACK
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror}): choose another --port (0 picks a free one)") from None
    listener.listen(128)
    return listener
