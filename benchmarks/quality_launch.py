"""`mtlembed` with kernel settings the config does not expose, for quality experiments (issue 19).

    python benchmarks/quality_launch.py shared_negatives=false train corpus.txt -o v.bin ...
    python benchmarks/quality_grid.py ... --mtlembed-cmd "python benchmarks/quality_launch.py init_range=1.0"

The first argument is `key=value,...` (or `-` for none): `init_range` sets mtlembed.trainer.INIT_RANGE,
`wide_from_updates` trainer.WIDE_FROM_UPDATES (1: every word at INIT_RANGE), `bucket_start`
trainer.BUCKET_START (0: the buckets' rows start at zero),
`noise_power` is `--ns-exponent` (the flag came after results that name this key), `shuffle`
`--order shuffled` / `--order corpus` (every run before session 17 read in corpus order), any
other key a field of the kernel's TrainParams (csrc/sgns.h), such as shared_negatives; the rest is
mtlembed's command line.
"""

from __future__ import annotations

import sys


def parse(text: str) -> dict:
    values = {"true": True, "false": False}
    settings = {}
    for item in filter(None, text.split(",")):
        if item == "-":
            continue
        key, _, value = item.partition("=")
        settings[key] = values[value] if value in values else float(value) if "." in value else int(value)
    return settings


def main() -> int:
    settings = parse(sys.argv.pop(1))
    from mtlembed import kernel, trainer
    from mtlembed.cli import main as cli_main

    if "init_range" in settings:
        trainer.INIT_RANGE = float(settings.pop("init_range"))
    if "wide_from_updates" in settings:
        trainer.WIDE_FROM_UPDATES = float(settings.pop("wide_from_updates"))
    if "bucket_start" in settings:
        trainer.BUCKET_START = float(settings.pop("bucket_start"))
    if "noise_power" in settings:
        sys.argv += ["--ns-exponent", str(settings.pop("noise_power"))]
    if "shuffle" in settings:
        sys.argv += ["--order", "shuffled" if settings.pop("shuffle") else "corpus"]
    plain = kernel.params

    def params(config, dim, *device):
        p = plain(config, dim, *device)
        for key, value in settings.items():
            setattr(p, key, value)  # an unknown field is an AttributeError
        return p

    kernel.params = params
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
