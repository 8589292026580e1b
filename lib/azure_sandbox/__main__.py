"""`python -m azure_sandbox serve --fixture FILE [--base FILE] [--state-dir DIR] [--port N]`: serve until stopped."""

from __future__ import annotations

import argparse

from . import Faults, Sandbox


def main(argv: list[str] | None = None) -> int:
    """Serve a sandbox tenant until SIGINT or SIGTERM."""
    ap = argparse.ArgumentParser(prog="python -m azure_sandbox")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a sandbox tenant on 127.0.0.1 until interrupted")
    s.add_argument("--fixture", required=True, help="fixture YAML file, or scale-<N> with --base")
    s.add_argument("--base", help="fixture YAML whose tenant and MSP principal a scale-<N> tenant uses")
    s.add_argument("--state-dir", default=".sandbox")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--throttle", action="store_true")
    s.add_argument("--latency-ms", type=float, default=0.0)
    args = ap.parse_args(argv)
    sb = Sandbox(
        args.fixture,
        args.state_dir,
        args.port,
        Faults(throttle=args.throttle, latency_ms=args.latency_ms),
        base=args.base,
    )
    conn = sb.start()
    print(f"sandbox tenant serving at {conn.url}; connection file {args.state_dir}/connection.json", flush=True)
    sb.serve_until_stopped()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
