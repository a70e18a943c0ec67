"""Vector arithmetic on a generator's latent space: "A - B + C" as in DCGAN.

Radford et al. 2015, Sec. 6.3.2 and Fig. 7 ("smiling woman - neutral woman + neutral man =
smiling man"): each concept is the mean latent z of several exemplars ("averaging the Z
vector for three exemplars showed consistent and stable generations", where single samples
were unstable); the signed sum Y of the concept means is decoded, and so is Y plus uniform
noise of scale +-0.25 to show the neighbourhood.

Exemplar latents come from one of two sources:
  invert:   dataset images showing the concept (picked by label or attribute), inverted
            through the generator (`genzoo.explore.inversion`);
  classify: many prior samples z, decoded and scored by an attribute classifier
            (`genzoo.metrics.attributes`); the z whose G(z) most confidently shows the
            concept are kept.

Expressions: concepts joined by "+" and "-" with spaces around the operators, e.g.
    "colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square"
A concept is `key=value[,key=value...]` over the dataset's attributes (or `label=NAME`),
or one bare word naming a class or an attribute value that only one attribute has (`red`).
Quote a concept that contains spaces: "'ankle boot' - sneaker + sandal".

`arithmetic_success_rate` measures how often the result shows the attribute mix the
expression implies (red circle - red square + blue square -> blue circle), with the
attribute classifier as judge.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from genzoo.data.preprocess import Preprocessor
from genzoo.explore.inversion import invert_generator
from genzoo.explore.sampling import to_display
from genzoo.models.base import GenerativeModel

if TYPE_CHECKING:  # any object with attribute_values, predict and predict_proba will do
    from genzoo.metrics.attributes import AttributeClassifier

Source = Literal["invert", "classify"]
SOURCES: tuple[str, ...] = ("invert", "classify")
PAPER_EXEMPLARS = 3  # Radford et al. 2015 average three exemplars per concept
PAPER_NOISE = 0.25  # uniform noise of scale +-0.25 around the result (Fig. 7)


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
    conditions: list[tuple[str, str]] = []
    if "=" not in text:
        if "," in text:
            raise ValueError(f"bad concept {text!r} in {expression!r}: combine conditions as key=value,key=value")
        return Concept(text, (("", text),))
    for part in text.split(","):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or not key or not value:
            raise ValueError(f"bad condition {part!r} in concept {text!r}: write key=value, e.g. colour=red")
        if any(key == seen for seen, _ in conditions):
            raise ValueError(f"concept {text!r} sets {key!r} twice")
        conditions.append((key, value))
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


def expected_attributes(terms: tuple[Term, ...]) -> dict[str, str]:
    """The attribute mix an expression implies: per attribute, the value whose signed count is +1.

    colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square
    -> {"colour": "blue", "shape": "circle"}. ValueError when the mix is not one value per attribute.
    """
    counts: dict[str, dict[str, int]] = {}
    for term in terms:
        for key, value in term.concept.conditions:
            if not key:
                raise ValueError(f"concept {term.concept.text!r} is a bare word: write attribute conditions (key=value) to derive the expected result")
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


def _label_index(value: str, class_names: tuple[str, ...], num_classes: int | None) -> int:
    if value in class_names:
        return class_names.index(value)
    if value.isdigit() and num_classes and int(value) < num_classes:
        return int(value)
    listed = ", ".join(class_names) if class_names else f"0..{(num_classes or 1) - 1}"
    raise ValueError(f"unknown label {value!r}: choose one of {listed}")


def _resolve_bare_word(word: str, attribute_values: dict[str, tuple[str, ...]], class_names: tuple[str, ...]) -> tuple[str, int]:
    if word in class_names:
        return "label", class_names.index(word)
    owners = [name for name, values in attribute_values.items() if word in values]
    if len(owners) == 1:
        return owners[0], attribute_values[owners[0]].index(word)
    if len(owners) > 1:
        raise ValueError(f"{word!r} is a value of several attributes ({', '.join(owners)}): write e.g. {owners[0]}={word}")
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


# ---- the arithmetic -------------------------------------------------------------------------------
@dataclass
class ArithmeticResult:
    """Everything `latent_arithmetic` computed, and its figure."""

    terms: tuple[Term, ...]
    exemplars: list[torch.Tensor]  # per term: uint8 (k, C, H, W) exemplar images (dataset images or G(z))
    exemplar_latents: list[torch.Tensor]  # per term: (k, D)
    concept_latents: torch.Tensor  # (T, D) the mean z of each concept
    concept_images: torch.Tensor  # uint8 (T, C, H, W) G(mean z)
    result_latent: torch.Tensor  # (D,) Y = sum of signed concept means
    results: torch.Tensor  # uint8 (R, C, H, W): G(Y), then G(Y + noise)
    grid: torch.Tensor  # uint8 (N, C, H, W): figure cells in order, blank cells black
    nrow: int  # images per figure row (exemplars + 1)


def latent_arithmetic(
    model: GenerativeModel,
    expression: str | tuple[Term, ...],
    *,
    dataset: object | None = None,
    preprocessor: Preprocessor | None = None,
    classifier: AttributeClassifier | None = None,
    source: Source = "invert",
    exemplars: int = PAPER_EXEMPLARS,
    results: int = 9,
    noise: float = PAPER_NOISE,
    candidates: int = 2048,
    inversion_steps: int = 300,
    inversion_restarts: int = 4,
    seed: int = 0,
) -> ArithmeticResult:
    """Decode "A - B + C" on the latent space of `model` (a GAN: `latent` and `decode`).

    source="invert" picks `exemplars` random dataset images per concept (`dataset`, put in the
    model's value space by `preprocessor`) and inverts them; source="classify" decodes
    `candidates` prior samples and keeps, per concept, the `exemplars` that `classifier`
    rates most likely to show it. `results` images: G(Y), then G(Y + u), u ~ U[-noise, noise]^d.
    Figure: one row per term (its exemplars, then G(mean z)), then the results.
    """
    terms = parse_expression(expression) if isinstance(expression, str) else tuple(expression)
    if not model.capabilities.latent_decoder:
        raise ValueError(f"model {model.name!r} has no latent prior and decoder: latent arithmetic needs a GAN")
    if model.capabilities.label_conditional:
        raise ValueError(f"model {model.name!r} is class-conditional: latent arithmetic needs an unconditional generator")
    if source not in SOURCES:
        raise ValueError(f"unknown exemplar source {source!r}: choose one of {', '.join(SOURCES)}")
    if exemplars < 1 or results < 1 or noise < 0:
        raise ValueError(f"need exemplars >= 1, results >= 1 and noise >= 0, got {exemplars}, {results}, {noise}")
    generator = torch.Generator(device=model.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        if source == "invert":
            if dataset is None:
                raise ValueError("source=invert needs the dataset to pick exemplar images from")
            shown, latents = _exemplars_by_inversion(model, terms, dataset, preprocessor, exemplars, inversion_steps, inversion_restarts, generator)
        else:
            if classifier is None:
                raise ValueError("source=classify needs an attribute classifier (genzoo.metrics.attributes.fit_attribute_classifier)")
            shown, latents = _exemplars_by_classifier(model, terms, classifier, exemplars, candidates, generator)
        with torch.no_grad():
            means = torch.stack([z.mean(0) for z in latents])  # (T, D)
            signs = torch.tensor([float(term.sign) for term in terms], device=means.device)  # (T,)
            result = (signs[:, None] * means).sum(0)  # (D,)
            offsets = (torch.rand(results - 1, result.shape[0], generator=generator, device=result.device) * 2 - 1) * noise
            result_latents = torch.cat([result[None], result[None] + offsets])  # (R, D)
            concept_images = _display(model, means)
            result_images = _display(model, result_latents)
    finally:
        model.train(was_training)
    grid, nrow = _figure(shown, concept_images, result_images, exemplars)
    return ArithmeticResult(terms, shown, latents, means, concept_images, result, result_images, grid, nrow)


def _display(model: GenerativeModel, z: torch.Tensor) -> torch.Tensor:
    return to_display(model.decode(z), model.data_format).cpu()  # uint8 (n, C, H, W)


def _exemplars_by_inversion(
    model: GenerativeModel, terms: tuple[Term, ...], dataset: object, preprocessor: Preprocessor | None,
    exemplars: int, steps: int, restarts: int, generator: torch.Generator,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    picks = []
    index_generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device)))
    for term in terms:
        matching = matching_indices(dataset, resolve_concept(term.concept, dataset))
        if len(matching) < exemplars:
            raise ValueError(f"concept {term.concept.text!r}: only {len(matching)} images in dataset {dataset.info.name} show it, need {exemplars}")
        picks.append(matching[torch.randperm(len(matching), generator=index_generator)[:exemplars]])
    chosen = torch.cat(picks)  # (T*k,)
    images = dataset.images[chosen.to(dataset.images.device)]  # uint8 (T*k, C, H, W)
    inverted = invert_generator(model, _to_model_space(images, model, preprocessor), steps=steps, restarts=restarts, generator=generator)
    shown = list(images.cpu().split(exemplars))
    return shown, list(inverted.latents.split(exemplars))


def _to_model_space(images: torch.Tensor, model: GenerativeModel, preprocessor: Preprocessor | None) -> torch.Tensor:
    """uint8 dataset images -> the model's float values (the run's preprocessor, else a linear map)."""
    if preprocessor is not None:
        return preprocessor(images.to(model.device))
    low, high = model.data_format.value_range
    return low + (high - low) * images.to(model.device).float() / 255.0


@torch.no_grad()
def _exemplars_by_classifier(
    model: GenerativeModel, terms: tuple[Term, ...], classifier: AttributeClassifier,
    exemplars: int, candidates: int, generator: torch.Generator,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    z = model.sample_latent(candidates, generator=generator)  # (N, D)
    images = torch.cat([_display(model, part) for part in z.split(256)])  # uint8 (N, C, H, W)
    probabilities = classifier.predict_proba(images)  # {name: (N, K)}
    predictions = {name: p.argmax(1) for name, p in probabilities.items()}
    shown, latents = [], []
    for term in terms:
        conditions = _classifier_conditions(term.concept, classifier)
        matches = torch.ones(candidates, dtype=torch.bool)
        confidence = torch.zeros(candidates)
        for name, index in conditions.items():
            matches &= predictions[name] == index
            confidence += probabilities[name][:, index].clamp_min(1e-12).log()  # joint log-probability of the concept
        found = int(matches.sum())
        if found < exemplars:
            raise ValueError(
                f"concept {term.concept.text!r}: only {found} of {candidates} samples show it by the classifier, "
                f"need {exemplars}: raise candidates or train the model longer"
            )
        best = torch.where(matches, confidence, torch.full_like(confidence, -float("inf"))).topk(exemplars).indices
        shown.append(images[best])
        latents.append(z[best.to(z.device)])
    return shown, latents


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


def _figure(shown: list[torch.Tensor], concept_images: torch.Tensor, result_images: torch.Tensor, exemplars: int) -> tuple[torch.Tensor, int]:
    """Cells row by row: [exemplars of term t..., G(mean z_t)] per term, then the results wrapped."""
    nrow = exemplars + 1
    cells = []
    for images, mean_image in zip(shown, concept_images):
        cells += [images, mean_image[None]]
    blank = (-len(result_images)) % nrow
    cells += [result_images, torch.zeros(blank, *result_images.shape[1:], dtype=torch.uint8)]
    return torch.cat(cells), nrow


# ---- measurement ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArithmeticScore:
    expected: dict[str, str]
    success_rate: float  # share of result images showing every expected attribute
    attribute_rates: dict[str, float]  # share showing each expected attribute
    trials: int
    images: int


def arithmetic_success_rate(
    model: GenerativeModel,
    classifier: AttributeClassifier,
    expression: str,
    *,
    expected: dict[str, str] | None = None,
    trials: int = 10,
    seed: int = 0,
    **options: object,
) -> ArithmeticScore:
    """How often `expression` decodes to the expected attribute mix, judged by `classifier`.

    Runs `latent_arithmetic` `trials` times (seeds seed, seed+1, ...: fresh exemplars each time)
    and classifies all result images (G(Y) and its noisy neighbours). `expected` defaults to
    `expected_attributes(expression)`. `options` go to `latent_arithmetic` (source, dataset, ...).
    """
    terms = parse_expression(expression)
    expected = dict(expected or expected_attributes(terms))
    values = classifier.attribute_values
    for key, value in expected.items():
        if key not in values or value not in values[key]:
            raise ValueError(f"expected {key}={value!r} is not an attribute value the classifier knows")
    options.setdefault("classifier", classifier)
    images = torch.cat([latent_arithmetic(model, terms, seed=seed + trial, **options).results for trial in range(trials)])
    predictions = classifier.predict(images)
    hits = {key: predictions[key] == values[key].index(value) for key, value in expected.items()}
    all_hit = torch.stack(list(hits.values())).all(0)
    return ArithmeticScore(
        expected=expected,
        success_rate=float(all_hit.double().mean()),
        attribute_rates={key: float(hit.double().mean()) for key, hit in hits.items()},
        trials=trials,
        images=len(images),
    )
