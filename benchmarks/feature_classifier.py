"""Train the Fashion-MNIST (or another dataset's) feature classifier and report its test accuracy and time.

The classifier's penultimate layer is the feature space of genzoo's FID / KID / precision-recall
(`genzoo.metrics.features`). Run:

    nice python benchmarks/feature_classifier.py --data fashion-mnist [--epochs 6] [--seed 0] [--threads 1]

It trains with the default recipe (the one `genzoo eval` uses), writes the extractor to the
user cache and prints one summary line: test accuracy, training seconds, cache path.
On a shared CPU one thread is often faster than several (OpenMP threads wait on each other).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genzoo.metrics.features import FeatureTraining, extractor_path, train_feature_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--epochs", type=float, default=FeatureTraining.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-cache", action="store_true", help="do not write the extractor to the cache")
    parser.add_argument("--max-shift", type=int, default=FeatureTraining.max_shift, help="random shift augmentation, pixels")
    parser.add_argument("--batch-size", type=int, default=FeatureTraining.batch_size)
    parser.add_argument("--lr", type=float, default=FeatureTraining.lr)
    parser.add_argument("--architecture", default="{}", help='JSON FeatureNetConfig overrides, e.g. \'{"convs_per_block": 1}\'')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    extractor = train_feature_classifier(
        args.data, device=args.device, architecture=json.loads(args.architecture), cache=not args.no_cache,
        training=FeatureTraining(epochs=args.epochs, seed=args.seed, max_shift=args.max_shift, batch_size=args.batch_size, lr=args.lr),
    )
    total = time.perf_counter() - started
    meta = extractor.metadata
    where = extractor_path(meta["recipe"]) if not args.no_cache else "(not cached)"
    print(
        f"{args.data}: test accuracy {meta['test_accuracy']:.4f} after {meta['epochs']:g} epochs "
        f"(seed {meta['seed']}, {meta['train_images']} training images, {torch.get_num_threads()} thread(s)); "
        f"training {meta['train_seconds']:.0f} s, total {total:.0f} s; extractor {extractor.identifier} -> {where}"
    )


if __name__ == "__main__":
    main()
