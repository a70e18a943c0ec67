"""Reference figures of the feature classifier: what FID / KID / precision-recall / recognised share read for
real images, noise, speckle and blur, each set against the same N test images.

    nice python benchmarks/sample_quality_reference.py --num-images 500 [--data fashion-mnist] [--threads 1]

Uses the feature classifier an evaluation would use (`choose_feature_extractor`: the cached
default recipe, else the most accurate cached, else the default trained now). The sets:
training images the classifier never saw (the real-vs-real floor `genzoo eval` reports),
uniform noise, binary noise, black images, test images with 5% / 20% of their pixels replaced
by random black or white ones (speckle), and test images blurred by a Gaussian (sigma 1.5).
Prints one Markdown table, the extractor's id and N.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from common import describe_machine, finish, machine
from genzoo.data import load_dataset
from genzoo.metrics.features import choose_feature_extractor
from genzoo.metrics.reference import ReferenceStatistics, other_real_statistics, reference_statistics, statistics_of_images
from genzoo.metrics.sample_quality import RECOGNISED_THRESHOLD, frechet_distance, kid, precision_recall, recognised_share


def speckle(images: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each sub-pixel with probability `share` by black or white (uint8 (N, C, H, W))."""
    flip = torch.rand(images.shape, generator=generator) < share
    salt = (torch.rand(images.shape, generator=generator) < 0.5).to(torch.uint8) * 255
    return torch.where(flip, salt, images)


def gaussian_blur(images: torch.Tensor, sigma: float = 1.5, size: int = 5) -> torch.Tensor:
    """Separable Gaussian blur of uint8 (N, C, H, W), replicate padding."""
    offsets = torch.arange(size) - size // 2
    kernel = torch.exp(-offsets.float() ** 2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    x = F.pad(images.float(), (size // 2,) * 4, mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    x = F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
    return x.round().clamp(0, 255).to(torch.uint8)


def figures(reference: ReferenceStatistics, other: ReferenceStatistics, classes: int) -> dict[str, float]:
    size = min(1000, min(other.num_images, reference.num_images) // 2)
    kid_value = kid(reference.features, other.features, subsets=100, subset_size=size, seed=0)
    pr = precision_recall(reference.features, other.features, k=3)
    return {
        "fid": frechet_distance(reference.mu, reference.sigma, other.mu, other.sigma),
        "kid": kid_value.mean, "kid_se": kid_value.std_error, "precision": pr.precision, "recall": pr.recall,
        "recognised": recognised_share(other.class_probs, classes=classes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--num-images", type=int, default=500, help="N: images per set, and test images they are compared with")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-json", help="append the figures as a JSON line")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine()
    print(describe_machine(info))
    started = time.perf_counter()
    choice = choose_feature_extractor(args.data, say=print)
    extractor = choice.extractor
    classes = extractor.num_classes
    reference = reference_statistics(extractor, args.data, "test", max_images=args.num_images, progress=False)
    held_out = other_real_statistics(extractor, args.data, max_images=args.num_images, progress=False)
    generator = torch.Generator().manual_seed(1)
    test = load_dataset(args.data, "test").images
    base = test[torch.randperm(len(test), generator=generator)[: reference.num_images]]  # (N, C, H, W) test images, reshuffled
    shape = (len(base), *base.shape[1:])
    sets = {
        "uniform noise": torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8),
        "binary noise (p = 0.5)": (torch.rand(shape, generator=generator) < 0.5).to(torch.uint8) * 255,
        "black images": torch.zeros(shape, dtype=torch.uint8),
        "test images, 5% speckle": speckle(base, 0.05, generator),
        "test images, 20% speckle": speckle(base, 0.20, generator),
        "test images, Gaussian blur (sigma 1.5)": gaussian_blur(base),
    }
    rows = {f"{held_out.key['images']} (the floor)": figures(reference, held_out, classes)}
    for name, images in sets.items():
        rows[name] = figures(reference, statistics_of_images(extractor, images), classes)
    accuracy = extractor.metadata.get("test_accuracy")
    print(f"\nextractor {extractor.identifier} (test accuracy {accuracy:.4f}); every set: N = {reference.num_images} images "
          f"against the same {reference.num_images} test images; test images recognised (p >= {RECOGNISED_THRESHOLD:g}): "
          f"{recognised_share(reference.class_probs, classes=classes):.1%}; Tr(Sigma) of the test features {float(reference.sigma.trace()):.1f}\n")
    print("| images | FID | KID (± s.e.) | precision | recall | recognised |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['fid']:.2f} | {row['kid']:.3f} ± {row['kid_se']:.3f} | {row['precision']:.3f} | {row['recall']:.3f} | {row['recognised']:.1%} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finish(info, args.out_json, {"benchmark": "sample_quality_reference", "extractor": extractor.identifier, "num_images": reference.num_images,
                                 "rows": rows})


if __name__ == "__main__":
    main()
