"""Vector arithmetic on a generative model's latent space: "A - B + C" as in DCGAN.

Radford et al. 2015, Sec. 6.3.2 and Fig. 7 ("smiling woman - neutral woman + neutral man =
smiling man"): each concept is the mean latent z of several exemplars ("averaging the Z
vector for three exemplars showed consistent and stable generations", where single samples
were unstable); the signed sum Y of the concept means is decoded, and so is Y plus uniform
noise of scale +-0.25 to show the neighbourhood.

Exemplar latents come from one of three sources:
  encode:   dataset images showing the concept (picked by label or attribute), put through
            the model's encoder (VAE: the posterior mean). The default for models with an
            encoder (vae, ae): exact codes of real images, no search.
  classify: many prior samples z, decoded and judged by an attribute classifier
            (`genzoo.metrics.attributes`); k of the z whose G(z) shows the concept are
            kept. The default for generators without an encoder (GANs) when the dataset has
            attributes: the paper's own procedure (its exemplars were generated images
            picked by eye).
  invert:   dataset images inverted through the generator by optimisation
            (`genzoo.explore.inversion`). Kept for datasets without attributes; on shapes a
            CPU-trained DCGAN cannot reproduce arbitrary real images, so these exemplars'
            means rarely encode the concept (docs/benchmarks.md).
`default_source` picks one from the model's declared capabilities.

Deliberately different from the paper, where a dataset has attributes (shapes): dataset
exemplars are *matched*: exemplar i of every concept shares the values of the attributes the
concept leaves free (red circle i and red square i have the same size and place), and each i
gives its own result Y_i = sum_t sign_t z_t,i. On shapes, place and size dominate the pixels:
the mean code of three differently placed shapes decodes to a blur of all three, and the
paper's mean-of-three arithmetic stays near chance (docs/benchmarks.md); `matched=False` is
the paper's procedure.

The noise half-width is given as a fraction of the latent distribution's spread, sqrt(3)
times its per-dimension standard deviation (estimated from 4096 prior samples): the paper's
+-0.25 under a U[-1, 1] prior (DCGAN), +-0.43 for a VAE's N(0, I).

Expressions: concepts joined by "+" and "-" with spaces around the operators, e.g.
    "colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square"
A concept is `key=value[,key=value...]` over the dataset's attributes (or `label=NAME`);
a bare value stands for the one attribute that has it (`red,circle`), else a class name
(any case).
Quote a concept that contains spaces: "'ankle boot' - sneaker + sandal".

`arithmetic_success_rate` measures how often the results show the attribute mix the
expression implies (red circle - red square + blue square -> blue circle), with the
attribute classifier as judge, next to the chance rate: the share of plain prior samples
that show that mix anyway.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import torch

from genzoo.data.preprocess import Preprocessor
from genzoo.explore.inversion import invert_generator
from genzoo.explore.sampling import to_display
from genzoo.models.base import GenerativeModel

if TYPE_CHECKING:  # any object with attribute_values, predict and predict_proba will do
    from genzoo.metrics.attributes import AttributeClassifier

Source = Literal["auto", "encode", "classify", "invert"]
SOURCES: tuple[str, ...] = ("auto", "encode", "classify", "invert")
PAPER_EXEMPLARS = 3  # Radford et al. 2015 average three exemplars per concept
PAPER_NOISE = 0.25  # uniform noise of scale +-0.25 around the result (Fig. 7), as a fraction of U[-1, 1]
POOL_BATCH = 256  # prior samples decoded at once
SPREAD_SAMPLES = 4096  # prior samples that measure the latent distribution's spread
DEFAULT_EXPRESSIONS = {"shapes": "red,circle - red,square + blue,square"}  # expected: a blue circle
SOURCE_DESCRIPTIONS = {
    "encode": "real training images of the concepts, encoded by the model's encoder",
    "classify": "prior samples whose decodings the attribute classifier says show the concepts",
    "invert": "real training images of the concepts, inverted through the generator by optimisation",
}


# ---- parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Concept:
    """One operand: the conditions an exemplar must meet, e.g. (("colour", "red"), ("shape", "circle")).

    A bare word has the key "" (resolved against class names and attribute values later).
    """

    text: str
    conditions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Term:
    sign: int  # +1 or -1
    concept: Concept


def _parse_concept(text: str, expression: str) -> Concept:
    """`colour=red,shape=circle`, `red,circle` or `red` -> conditions; a bare word gets the key ""."""
    conditions: list[tuple[str, str]] = []
    for part in text.split(","):
        if "=" not in part and "," not in text:
            return Concept(text, (("", text),))  # one bare word, spaces allowed ('ankle boot')
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if sep and (not key or not value) or not sep and not key:
            raise ValueError(f"bad condition {part!r} in concept {text!r}: write key=value (e.g. colour=red) or a value (red)")
        if sep and any(key == seen for seen, _ in conditions):
            raise ValueError(f"concept {text!r} sets {key!r} twice")
        conditions.append((key, value) if sep else ("", key))
    return Concept(text, tuple(conditions))


def parse_expression(expression: str) -> tuple[Term, ...]:
    """`"A - B + C"` -> (Term(+1, A), Term(-1, B), Term(+1, C)); ValueError saying what is wrong.

    Operators must be separated from concepts by spaces; a leading "-" negates the first term.
    """
    try:
        tokens = shlex.split(expression)
    except ValueError as error:
        raise ValueError(f"cannot parse {expression!r}: {error}") from None
    if not tokens:
        raise ValueError("empty expression: write concepts joined by + and -, e.g. 'red circle' as colour=red,shape=circle - ...")
    terms: list[Term] = []
    sign: int | None = 1
    expect_concept = True
    for position, token in enumerate(tokens):
        if token in ("+", "-"):
            if expect_concept and not (position == 0 and token == "-"):
                raise ValueError(f"operator {token!r} at token {position + 1} of {expression!r} has no concept before it")
            sign = 1 if token == "+" else -1
            expect_concept = True
            continue
        if not expect_concept:
            raise ValueError(
                f"missing operator before {token!r} in {expression!r}: join concepts with ' + ' or ' - ' "
                "(spaces around the operator; quote a concept that contains spaces)"
            )
        terms.append(Term(sign or 1, _parse_concept(token, expression)))
        expect_concept = False
    if expect_concept:
        raise ValueError(f"expression {expression!r} ends with an operator: add the concept after it")
    return tuple(terms)


def expected_attributes(terms: tuple[Term, ...], attribute_values: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """The attribute mix an expression implies: per attribute, the value whose signed count is +1.

    colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square
    -> {"colour": "blue", "shape": "circle"}. Bare words (red) are looked up in
    `attribute_values`. ValueError when the mix is not one value per attribute.
    """
    counts: dict[str, dict[str, int]] = {}
    for term in terms:
        for key, value in term.concept.conditions:
            if not key:
                owners = [name for name, options in (attribute_values or {}).items() if value in options]
                if len(owners) != 1:
                    raise ValueError(f"concept {term.concept.text!r}: cannot tell which attribute {value!r} is: write key=value to derive the expected result")
                key = owners[0]
            counts.setdefault(key, {}).setdefault(value, 0)
            counts[key][value] += term.sign
    expected: dict[str, str] = {}
    for key, values in counts.items():
        remaining = {value: count for value, count in values.items() if count != 0}
        if list(remaining.values()) != [1]:
            described = ", ".join(f"{value}: {count:+d}" for value, count in remaining.items()) or "nothing"
            raise ValueError(f"attribute {key!r} does not resolve to one value (signed counts {described}): give the expected result explicitly")
        expected[key] = next(iter(remaining))
    return expected


def concept_name(concept: Concept) -> str:
    """Short display name: the values of its conditions ("red circle" for colour=red,shape=circle)."""
    return " ".join(value for _, value in concept.conditions)


def expression_name(terms: tuple[Term, ...]) -> str:
    """"red circle - red square + blue square" for display."""
    parts = []
    for position, term in enumerate(terms):
        if position or term.sign < 0:
            parts.append("+" if term.sign > 0 else "-")
        parts.append(concept_name(term.concept))
    return " ".join(parts)


# ---- resolving concepts against a dataset ------------------------------------------------------
def resolve_concept(concept: Concept, dataset: object) -> dict[str, int]:
    """{attribute or "label": value index} of a concept on `dataset` (shapes: attributes; any labelled data: label)."""
    attribute_values: dict[str, tuple[str, ...]] = dict(getattr(dataset, "attribute_values", {}) or {})
    class_names = tuple(dataset.info.class_names or ())
    resolved: dict[str, int] = {}
    for key, value in concept.conditions:
        if not key:
            key, index = _resolve_bare_word(value, attribute_values, class_names)
        elif key == "label":
            index = _label_index(value, class_names, dataset.info.num_classes)
        elif key in attribute_values:
            if value not in attribute_values[key]:
                raise ValueError(f"unknown {key} {value!r} in concept {concept.text!r}: choose one of {', '.join(attribute_values[key])}")
            index = attribute_values[key].index(value)
        else:
            known = ", ".join(sorted([*attribute_values, "label"]))
            raise ValueError(f"unknown attribute {key!r} in concept {concept.text!r}: dataset {dataset.info.name} has {known}")
        if key in resolved and resolved[key] != index:
            raise ValueError(f"concept {concept.text!r} asks for two values of {key!r}")
        resolved[key] = index
    return resolved


def _class_index(word: str, class_names: tuple[str, ...]) -> int | None:
    """Position of `word` among the class names, ignoring case ("ankle boot" is "Ankle boot"); None if absent."""
    lowered = [name.lower() for name in class_names]
    return lowered.index(word.lower()) if word.lower() in lowered else None


def _label_index(value: str, class_names: tuple[str, ...], num_classes: int | None) -> int:
    if _class_index(value, class_names) is not None:
        return _class_index(value, class_names)
    if value.isdigit() and num_classes and int(value) < num_classes:
        return int(value)
    listed = ", ".join(class_names) if class_names else f"0..{(num_classes or 1) - 1}"
    raise ValueError(f"unknown label {value!r}: choose one of {listed}")


def _resolve_bare_word(word: str, attribute_values: dict[str, tuple[str, ...]], class_names: tuple[str, ...]) -> tuple[str, int]:
    """An attribute value that only one attribute has, else a class name (shapes: "circle" is shape=circle)."""
    owners = [name for name, values in attribute_values.items() if word in values]
    if len(owners) == 1:
        return owners[0], attribute_values[owners[0]].index(word)
    if len(owners) > 1:
        raise ValueError(f"{word!r} is a value of several attributes ({', '.join(owners)}): write e.g. {owners[0]}={word}")
    if _class_index(word, class_names) is not None:
        return "label", _class_index(word, class_names)
    choices = sorted(set(class_names) | {v for values in attribute_values.values() for v in values})
    raise ValueError(f"unknown concept {word!r}: use key=value or one of {', '.join(choices) or '(no labels or attributes)'}")


def matching_indices(dataset: object, resolved: dict[str, int]) -> torch.Tensor:
    """Indices (M,) of the dataset's examples that meet every condition."""
    keep = torch.ones(len(dataset), dtype=torch.bool)
    for key, index in resolved.items():
        values = dataset.labels if key == "label" else dataset.attributes[key]
        if values is None:
            raise ValueError(f"dataset {dataset.info.name} has no labels")
        keep &= values.cpu() == index
    return keep.nonzero().squeeze(1)


# ---- where the exemplars' latents come from --------------------------------------------------------
def default_source(model: GenerativeModel, has_classifier: bool) -> str:
    """encode for models with an encoder; classify for generators when an attribute classifier exists; else invert."""
    if model.capabilities.encoder:
        return "encode"
    return "classify" if has_classifier else "invert"


def resolve_source(source: str, model: GenerativeModel, has_classifier: bool) -> str:
    """`source` with "auto" replaced by `default_source`; ValueError when the model cannot use it."""
    if source not in SOURCES:
        raise ValueError(f"unknown exemplar source {source!r}: choose one of {', '.join(SOURCES)}")
    if source == "auto":
        return default_source(model, has_classifier)
    if source == "encode" and not model.capabilities.encoder:
        raise ValueError(f"model {model.name!r} has no encoder: use source classify (needs attributes) or invert")
    if source == "classify" and not has_classifier:
        raise ValueError("source=classify needs an attribute classifier (genzoo.metrics.attributes.load_attribute_classifier)")
    return source


@dataclass
class CandidatePool:
    """Prior samples, decoded and judged once: classify-source exemplars and the chance rate both draw on it."""

    latents: torch.Tensor  # (N, D) z ~ the model's latent distribution
    images: torch.Tensor  # uint8 (N, C, H, W) their decodings
    probabilities: dict[str, torch.Tensor]  # {attribute: (N, K)} the classifier's verdicts


@torch.no_grad()
def candidate_pool(
    model: GenerativeModel, classifier: AttributeClassifier, candidates: int, *, seed: int = 0, batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> CandidatePool:
    """`candidates` prior samples z, decoded in eval mode and judged by `classifier`; `progress(batches done)`."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        z = model.sample_latent(candidates, generator=generator)  # (N, D)
        parts = []
        for part in z.split(batch_size):
            parts.append(_display(model, part))  # uint8 (n, C, H, W)
            if progress is not None:
                progress(len(parts))
        images = torch.cat(parts)  # uint8 (N, C, H, W)
    finally:
        model.train(was_training)
    return CandidatePool(z, images, classifier.predict_proba(images))


@torch.no_grad()
def latent_spread(model: GenerativeModel, samples: int = SPREAD_SAMPLES) -> torch.Tensor:
    """sqrt(3) x the per-dimension standard deviation of the latent distribution (D,): 1 for U[-1, 1]."""
    z = model.sample_latent(samples, generator=torch.Generator(device=model.device).manual_seed(0))  # (S, D)
    return 3**0.5 * z.std(0)


# ---- the arithmetic -------------------------------------------------------------------------------
@dataclass
class ArithmeticResult:
    """Everything `latent_arithmetic` computed."""

    terms: tuple[Term, ...]
    source: str  # encode, classify or invert
    matched: bool  # exemplar i of every concept shares the attributes the concept leaves free
    exemplars: list[torch.Tensor]  # per term: uint8 (k, C, H, W) exemplar images (dataset images or G(z))
    exemplar_latents: list[torch.Tensor]  # per term: (k, D)
    concept_latents: torch.Tensor  # (T, D) the mean z of each concept
    concept_images: torch.Tensor  # uint8 (T, C, H, W) G(mean z)
    result_latent: torch.Tensor  # (D,) Y = sum of signed concept means (the paper's result)
    result_latents: torch.Tensor  # (R, D) the decoded results: see `latent_arithmetic`
    results: torch.Tensor  # uint8 (R, C, H, W)
    grid: torch.Tensor  # uint8 (N, C, H, W): figure cells in order, blank cells black
    nrow: int  # images per figure row: exemplars (+ 1 for the mean when not matched)


def latent_arithmetic(
    model: GenerativeModel,
    expression: str | tuple[Term, ...],
    *,
    dataset: object | None = None,
    preprocessor: Preprocessor | None = None,
    classifier: AttributeClassifier | None = None,
    source: Source = "auto",
    matched: bool | None = None,
    exemplars: int = PAPER_EXEMPLARS,
    results: int = 9,
    noise: float = PAPER_NOISE,
    candidates: int = 2048,
    pool: CandidatePool | None = None,
    spread: torch.Tensor | None = None,
    inversion_steps: int = 300,
    inversion_restarts: int = 4,
    seed: int = 0,
) -> ArithmeticResult:
    """Decode "A - B + C" on the latent space of `model` (`decode`, and `encode` for source=encode).

    source="encode" / "invert" pick `exemplars` dataset images per concept (`dataset`, put in
    the model's value space by `preprocessor`) and encode / invert them; source="classify"
    picks `exemplars` random prior samples per concept among those of `pool` (else
    `candidates` fresh ones) that `classifier` says show it; "auto": `default_source`.

    Not matched (the paper; always for classify): exemplars are random, the results are
    G(Y) for Y the signed sum of the concept means, then G(Y + u), u ~ U[-noise, noise]^d
    times the latent spread (`spread`, default `latent_spread(model)`), `results` in all.
    Matched (default for dataset exemplars when the dataset has attributes): exemplar i of
    every concept shares one random image's values of the attributes the concept leaves
    free (red circle i and red square i have the same size and place), and each i gives its
    own result Y_i = sum_t sign_t z_t,i; the results are G(Y_1..Y_k), then G(Y_i + u) with i
    cycling, `results` in all. On shapes, whose free factors (place, size) dominate the
    pixels, the mean code of differently placed exemplars decodes to a blur of all of them;
    matched exemplars keep each analogy within one place and size.
    Figure cells (`grid`): one row per term (its exemplars, then G(mean z) when not matched),
    then the results, `nrow` to a row.
    """
    terms = parse_expression(expression) if isinstance(expression, str) else tuple(expression)
    if not model.capabilities.latent_decoder:
        raise ValueError(f"model {model.name!r} has no latent prior and decoder: latent arithmetic needs a VAE, an AE or a GAN")
    if model.capabilities.label_conditional:
        raise ValueError(f"model {model.name!r} is class-conditional: latent arithmetic needs an unconditional model")
    source = resolve_source(source, model, classifier is not None)
    if exemplars < 1 or results < 1 or noise < 0:
        raise ValueError(f"need exemplars >= 1, results >= 1 and noise >= 0, got {exemplars}, {results}, {noise}")
    matched = resolve_matched(matched, source, dataset)
    picks = torch.Generator().manual_seed(seed)  # which dataset images / candidates become exemplars
    generator = torch.Generator(device=model.device).manual_seed(seed)  # inversion starts and result noise
    was_training = model.training
    model.eval()
    try:
        if source == "classify":
            pool = pool if pool is not None else candidate_pool(model, classifier, candidates, seed=seed)
            shown, latents = _exemplars_from_pool(terms, pool, classifier, exemplars, picks)
        else:
            if dataset is None:
                raise ValueError(f"source={source} needs the dataset to pick exemplar images from")
            shown = (_matched_exemplars if matched else _dataset_exemplars)(terms, dataset, exemplars, picks)
            x = _to_model_space(torch.cat(shown), model, preprocessor)  # (T*k, C, H, W)
            if source == "encode":
                with torch.no_grad():
                    codes = model.encode(x)  # (T*k, D)
            else:
                codes = invert_generator(model, x, steps=inversion_steps, restarts=inversion_restarts, generator=generator).latents
            latents = list(codes.split(exemplars))
        with torch.no_grad():
            stacked = torch.stack(latents)  # (T, k, D)
            signs = torch.tensor([float(term.sign) for term in terms], device=stacked.device)  # (T,)
            means = stacked.mean(1)  # (T, D)
            result = (signs[:, None] * means).sum(0)  # (D,)
            centres = (signs[:, None, None] * stacked).sum(0) if matched else result[None]  # (k, D) or (1, D)
            scale = noise * (spread if spread is not None else latent_spread(model)).to(result.device)  # (D,)
            offsets = (torch.rand(results, result.shape[0], generator=generator, device=result.device) * 2 - 1) * scale  # (R, D)
            offsets[: len(centres)] = 0  # the first results are the centres themselves
            result_latents = centres[torch.arange(results, device=centres.device) % len(centres)] + offsets  # (R, D)
            concept_images = _display(model, means)
            result_images = _display(model, result_latents)
    finally:
        model.train(was_training)
    grid, nrow = _cells(shown, None if matched else concept_images, result_images, exemplars)
    return ArithmeticResult(terms, source, matched, shown, latents, means, concept_images, result, result_latents, result_images, grid, nrow)


def resolve_matched(matched: bool | None, source: str, dataset: object | None) -> bool:
    """None -> matched exemplars wherever they are possible: dataset images (encode, invert) with attributes."""
    possible = source != "classify" and bool(getattr(dataset, "attributes", None))
    if matched is None:
        return possible
    if matched and not possible:
        raise ValueError("matched exemplars need dataset images with attributes (source encode or invert on e.g. shapes)")
    return matched


def _display(model: GenerativeModel, z: torch.Tensor) -> torch.Tensor:
    return to_display(model.decode(z), model.data_format).cpu()  # uint8 (n, C, H, W)


def _dataset_exemplars(terms: tuple[Term, ...], dataset: object, exemplars: int, picks: torch.Generator) -> list[torch.Tensor]:
    """Per term, `exemplars` random dataset images (uint8 (k, C, H, W)) that show its concept."""
    shown = []
    for term in terms:
        matching = matching_indices(dataset, resolve_concept(term.concept, dataset))
        if len(matching) < exemplars:
            raise ValueError(f"concept {term.concept.text!r}: only {len(matching)} images in dataset {dataset.info.name} show it, need {exemplars}")
        chosen = matching[torch.randperm(len(matching), generator=picks)[:exemplars]]
        shown.append(dataset.images[chosen.to(dataset.images.device)].cpu())
    return shown


def _matched_exemplars(terms: tuple[Term, ...], dataset: object, exemplars: int, picks: torch.Generator, tries: int = 200) -> list[torch.Tensor]:
    """Per term, `exemplars` dataset images (uint8 (k, C, H, W)); image i of every term shares the free attributes of slot i.

    Slot i takes the attribute values of a random dataset image (the anchor); each term's
    exemplar i is a random image with those values, its own conditions imposed.
    """
    resolved = [resolve_concept(term.concept, dataset) for term in terms]
    for term, conditions in zip(terms, resolved):
        if not len(matching_indices(dataset, conditions)):
            raise ValueError(f"concept {term.concept.text!r}: only 0 images in dataset {dataset.info.name} show it, need 1")
    attributes = {name: values.cpu() for name, values in dataset.attributes.items()}
    slots = []
    for _ in range(exemplars):
        for _ in range(tries):
            anchor = int(torch.randint(len(dataset), (1,), generator=picks))
            free = {name: int(values[anchor]) for name, values in attributes.items()}
            candidates = [matching_indices(dataset, {**free, **conditions}) for conditions in resolved]
            if all(len(found) for found in candidates):
                slots.append([int(found[torch.randint(len(found), (1,), generator=picks)]) for found in candidates])
                break
        else:
            raise ValueError(f"found no {len(terms)} images that differ only in the concepts' own attributes after {tries} tries: "
                             "the concepts conflict (e.g. label= and shape=); use unmatched exemplars")
    chosen = torch.tensor(slots).T  # (T, k) dataset indices
    return [dataset.images[row.to(dataset.images.device)].cpu() for row in chosen]


def _to_model_space(images: torch.Tensor, model: GenerativeModel, preprocessor: Preprocessor | None) -> torch.Tensor:
    """uint8 dataset images -> the model's float values (the run's preprocessor, else a linear map)."""
    if preprocessor is not None:
        return preprocessor(images.to(model.device))
    low, high = model.data_format.value_range
    return low + (high - low) * images.to(model.device).float() / 255.0


def _exemplars_from_pool(
    terms: tuple[Term, ...], pool: CandidatePool, classifier: AttributeClassifier, exemplars: int, picks: torch.Generator,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    shown, latents = [], []
    for term in terms:
        matches = shows_attributes(pool.probabilities, _classifier_conditions(term.concept, classifier)).nonzero().squeeze(1)
        if len(matches) < exemplars:
            raise ValueError(
                f"concept {term.concept.text!r}: only {len(matches)} of {len(pool.images)} samples show it by the classifier, "
                f"need {exemplars}: raise candidates or train the model longer"
            )
        chosen = matches[torch.randperm(len(matches), generator=picks)[:exemplars]]
        shown.append(pool.images[chosen])
        latents.append(pool.latents[chosen.to(pool.latents.device)])
    return shown, latents


def shows_attributes(probabilities: dict[str, torch.Tensor], wanted: dict[str, int]) -> torch.Tensor:
    """(N,) bool: the classifier's most likely value is the wanted one for every wanted attribute."""
    count = len(next(iter(probabilities.values())))
    hit = torch.ones(count, dtype=torch.bool)
    for name, index in wanted.items():
        hit &= probabilities[name].argmax(1) == index
    return hit


def _classifier_conditions(concept: Concept, classifier: AttributeClassifier) -> dict[str, int]:
    values = classifier.attribute_values
    conditions: dict[str, int] = {}
    for key, value in concept.conditions:
        if not key:
            owners = [name for name, options in values.items() if value in options]
            if len(owners) != 1:
                raise ValueError(f"concept {concept.text!r}: {value!r} is not one attribute value of the classifier ({', '.join(values)}): write key=value")
            key = owners[0]
        if key not in values:
            raise ValueError(f"concept {concept.text!r}: the classifier knows the attributes {', '.join(values)}, not {key!r}")
        if value not in values[key]:
            raise ValueError(f"unknown {key} {value!r} in concept {concept.text!r}: choose one of {', '.join(values[key])}")
        conditions[key] = values[key].index(value)
    return conditions


def _cells(shown: list[torch.Tensor], concept_images: torch.Tensor | None, result_images: torch.Tensor, exemplars: int) -> tuple[torch.Tensor, int]:
    """Cells row by row: [exemplars of term t..., G(mean z_t) unless None] per term, then `result_layout`; blanks black."""
    matched = concept_images is None
    nrow = exemplars + (not matched)
    cells = []
    for index, images in enumerate(shown):
        cells += [images] if matched else [images, concept_images[index][None]]
    blank = torch.zeros(1, *result_images.shape[1:], dtype=torch.uint8)
    cells += [blank if index is None else result_images[index][None] for index in result_layout(len(result_images), exemplars, matched)]
    return torch.cat(cells), nrow


def result_layout(count: int, exemplars: int, matched: bool) -> list[int | None]:
    """Result index of each cell of the result rows (None: blank).

    Matched: `exemplars` to a row in order, so result i sits under analogy i. Not matched:
    G(Y) (result 0) in the last, "mean" column of the first row, under the concepts'
    decoded means; the noisy results G(Y + u) in the exemplar columns.
    """
    if matched:
        return list(range(count)) + [None] * ((-count) % exemplars)
    noisy = list(range(1, count))
    layout: list[int | None] = []
    for row in range(max(1, -(-len(noisy) // exemplars))):
        part = noisy[row * exemplars : (row + 1) * exemplars]
        layout += part + [None] * (exemplars - len(part)) + [0 if row == 0 else None]
    return layout


# ---- measurement ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArithmeticScore:
    expected: dict[str, str]
    source: str
    success_rate: float  # share of result images showing every expected attribute
    attribute_rates: dict[str, float]  # share showing each expected attribute
    trials: int
    images: int  # result images judged: trials x results
    chance_rate: float  # share of plain prior samples showing every expected attribute
    chance_attribute_rates: dict[str, float]
    chance_samples: int
    uniform_chance: float  # prod 1/K over the expected attributes: a judge guessing at random
    example: ArithmeticResult = field(repr=False, compare=False)  # trial 0 (seed `seed`), for the figure


def arithmetic_success_rate(
    model: GenerativeModel,
    classifier: AttributeClassifier,
    expression: str | tuple[Term, ...],
    *,
    expected: dict[str, str] | None = None,
    trials: int = 10,
    seed: int = 0,
    candidates: int = 2048,
    progress: Callable[[int, int], None] | None = None,
    **options: object,
) -> ArithmeticScore:
    """How often `expression` decodes to the expected attribute mix, judged by `classifier`, against chance.

    Runs `latent_arithmetic` `trials` times (seeds seed, seed+1, ...: fresh exemplars each time)
    and classifies all result images (G(Y) and its noisy neighbours). `expected` defaults to
    `expected_attributes(expression)`. Chance: `candidates` plain prior samples, decoded and
    judged the same way (the classify source picks its exemplars from the same pool).
    `options` go to `latent_arithmetic` (source, dataset, results, ...); `progress(done, total)` counts
    decoded batches of the pool, then trials.
    """
    terms = parse_expression(expression) if isinstance(expression, str) else tuple(expression)
    values = classifier.attribute_values
    expected = dict(expected or expected_attributes(terms, values))
    for key, value in expected.items():
        if key not in values or value not in values[key]:
            raise ValueError(f"expected {key}={value!r} is not an attribute value the classifier knows")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    options.pop("classifier", None)
    wanted = {key: values[key].index(value) for key, value in expected.items()}
    batches = -(-candidates // POOL_BATCH)
    report = (lambda done: progress(done, batches + trials)) if progress is not None else None
    pool = candidate_pool(model, classifier, candidates, seed=seed, batch_size=POOL_BATCH, progress=report)
    spread = latent_spread(model)
    runs = []
    for trial in range(trials):
        runs.append(latent_arithmetic(model, terms, classifier=classifier, pool=pool, spread=spread, seed=seed + trial, **options))
        if report is not None:
            report(batches + trial + 1)
    images = torch.cat([run.results for run in runs])  # (trials * R, C, H, W)
    probabilities = classifier.predict_proba(images)
    chance = {key: shows_attributes(pool.probabilities, {key: index}) for key, index in wanted.items()}
    uniform = 1.0
    for key in expected:
        uniform /= len(values[key])
    return ArithmeticScore(
        expected=expected,
        source=runs[0].source,
        success_rate=float(shows_attributes(probabilities, wanted).double().mean()),
        attribute_rates={key: float(shows_attributes(probabilities, {key: index}).double().mean()) for key, index in wanted.items()},
        trials=trials,
        images=len(images),
        chance_rate=float(shows_attributes(pool.probabilities, wanted).double().mean()),
        chance_attribute_rates={key: float(hit.double().mean()) for key, hit in chance.items()},
        chance_samples=candidates,
        uniform_chance=uniform,
        example=runs[0],
    )


def result_verdicts(classifier: AttributeClassifier, images: torch.Tensor, expected: dict[str, str]) -> list[bool]:
    """Per image (uint8 (R, C, H, W)): does the classifier see every expected attribute value?"""
    values = classifier.attribute_values
    wanted = {key: values[key].index(value) for key, value in expected.items()}
    return [bool(hit) for hit in shows_attributes(classifier.predict_proba(images), wanted)]


# ---- the figure ---------------------------------------------------------------------------------------
FRAME_HIT = (0, 190, 0)  # result the classifier says shows the expected mix
FRAME_MISS = (230, 0, 0)  # result it says does not
FRAME_MEAN = (150, 150, 150)  # a concept's decoded mean
FRAME_NONE = (0, 0, 0)  # exemplars, and results without a verdict


@dataclass(frozen=True)
class ArithmeticFigure:
    """Framed cells, row-major, `nrow` per row, for `genzoo.explore.figure.save_labelled_grid(images, path, nrow=nrow, **labels())`."""

    images: torch.Tensor  # uint8 (N, 3, H + 2, W + 2): every cell with a one-pixel frame, blank cells white
    nrow: int
    title: str
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    column_title: str

    def labels(self) -> dict[str, object]:
        return {"title": self.title, "row_labels": self.row_labels, "column_labels": self.column_labels, "column_title": self.column_title}


def arithmetic_figure(
    result: ArithmeticResult, *, verdicts: list[bool] | None = None, expected: dict[str, str] | None = None, heading: str = "",
) -> ArithmeticFigure:
    """One row per concept, then the result rows; columns are exemplars (matched: column i is analogy i).

    Not matched, each concept row ends with its decoded mean code (gray frame). `verdicts`
    (one per result image, from `result_verdicts`) frame each result green (shows `expected`)
    or red; the title states the expression, the source and the tally.
    """
    exemplars = len(result.exemplars[0])
    cells: list[torch.Tensor] = []
    for index, images in enumerate(result.exemplars):
        cells += [_framed(image, FRAME_NONE) for image in images]
        if not result.matched:
            cells.append(_framed(result.concept_images[index], FRAME_MEAN))
    layout = result_layout(len(result.results), exemplars, result.matched)
    for index in layout:
        if index is None:
            cells.append(torch.full_like(cells[0], 255))
        else:
            colour = FRAME_NONE if verdicts is None else FRAME_HIT if verdicts[index] else FRAME_MISS
            cells.append(_framed(result.results[index], colour))
    result_rows = len(layout) // result.nrow
    row_labels = tuple(f"{'+' if term.sign > 0 else '-'} {concept_name(term.concept)}" for term in result.terms)
    columns = tuple(str(i + 1) for i in range(exemplars))
    if result.matched:
        row_labels += ("= result",) + ("+ noise",) * (result_rows - 1)
        column_title = "column i: exemplars sharing every attribute their concept leaves free; result i: their signed sum of codes"
    else:
        row_labels += ("= result",) * result_rows
        columns += ("mean",)
        column_title = "random exemplars; column mean: their decoded mean code, and the result Y (signed sum of the means); other results: Y + noise"
    title = f"{heading}{expression_name(result.terms)}   (exemplars: {result.source}{', matched' if result.matched else ''})"
    if verdicts is not None and expected:
        wanted = " ".join(expected.values())
        title += f"\nclassifier: {sum(verdicts)} of {len(verdicts)} results show {wanted} (green frame; red: not)"
    return ArithmeticFigure(torch.stack(cells), result.nrow, title, row_labels, columns, column_title)


def _framed(image: torch.Tensor, colour: tuple[int, int, int]) -> torch.Tensor:
    """uint8 (C, H, W) -> (3, H + 2, W + 2) inside a one-pixel frame of `colour` (gray images become RGB)."""
    rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image
    framed = torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1).repeat(1, rgb.shape[1] + 2, rgb.shape[2] + 2)
    framed[:, 1:-1, 1:-1] = rgb
    return framed
