"""Run the fake provider as a process, for scripts (.ci/slurm.sh).

    python -m tests.fake_provider --images DIR --truth DIR --url-file URL \
        --log LOG --key-label sk-test-local=local --key-label sk-test-x=x

It listens on a free port of 127.0.0.1, learns every image of ``--images``
(or the first ``--limit`` of them by name), answering from the ground truth
of an AOCR folder given as ``--truth`` (others with an empty reading),
writes its base URL to ``--url-file`` once it listens, appends each request
to ``--log`` as a JSON line, and runs until SIGTERM or SIGINT. Keys are
given as ``KEY=LABEL``: the log labels each request with the label of the key
it carried, so runs that share the server can be told apart; without
``--key-label`` any key (or none) is accepted.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from . import FakeConfig, FakeProvider, load_aocr_truth

SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}


def main(argv: list[str] | None = None) -> None:
    """Start the server, write its URL, and wait for a signal to stop."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_provider")
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="an AOCR folder with parsed/")
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--key-label", action="append", default=[])
    parser.add_argument("--limit", type=int, help="learn only the first N images")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)

    keys = dict(item.split("=", 1) for item in args.key_label) or None
    fake = FakeProvider(FakeConfig(keys=keys, latency_s=args.latency), args.log)
    truth = load_aocr_truth(args.truth) if args.truth else {}
    images = [p for p in sorted(args.images.iterdir()) if p.suffix.lower() in SUFFIXES]
    for path in images[: args.limit]:
        fake.register(path, truth=truth.get(path.stem))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        # Written last and renamed, so a reader never sees half a URL.
        partial = args.url_file.with_suffix(".partial")
        partial.write_text(fake.base_url + "\n", encoding="utf-8")
        partial.rename(args.url_file)
        stop.wait()


if __name__ == "__main__":
    main()
