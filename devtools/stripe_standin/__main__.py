"""`python -m devtools.stripe_standin`: serve the stand-in until interrupted."""

import argparse
import logging
import os
import sys
import threading

from .server import StandinServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stripe_standin",
        description="Local stand-in for Stripe Checkout Sessions, refunds, events and webhooks.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=12111, help="port (default: %(default)s)")
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("STRIPE_WEBHOOK_URL"),
        help="where to POST events (default: $STRIPE_WEBHOOK_URL; none: events are only kept)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        help="whsec_... signing secret (default: $STRIPE_WEBHOOK_SECRET, else a random one)",
    )
    parser.add_argument(
        "--public-url",
        help="base URL browsers use for the hosted page (default: http://HOST:PORT)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        server = StandinServer(
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            host=args.host,
            port=args.port,
            public_url=args.public_url,
        )
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    server.start()
    if args.webhook_url and not args.webhook_secret:
        # Printed because the site needs it to verify signatures; only ever a test secret.
        print(f"Webhook signing secret: {server.webhook_secret}", file=sys.stderr)
    print(f"Stripe stand-in ready: api base {server.url}", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
