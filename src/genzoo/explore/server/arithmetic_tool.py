"""Vector arithmetic on the page: "A - B + C" from exemplar groups, the result beside its parts.

All the work is genzoo.explore.arithmetic's `latent_arithmetic` (exemplars by class or, on
`shapes`, by attribute; encoded, classified or inverted by the model's capabilities; matched
where the dataset has attributes). On a dataset with attributes the cached attribute classifier
(genzoo.metrics.attributes, fitted once per dataset when missing) gives its verdict on every
result: which attribute values it sees, and whether they are the mix the expression implies.
"""

from __future__ import annotations

from typing import Any

from genzoo.explore import arithmetic as arith
from genzoo.explore.server.images import png_url, png_urls
from genzoo.explore.server.run_state import ExploreRun
from genzoo.explore.server.validation import RequestError, integer, text

INVERSION = {"inversion_steps": 150, "inversion_restarts": 2}  # GAN exemplars: a page waits for them
MAX_EXEMPLARS = 5
MAX_RESULTS = 9


def training_split(run: ExploreRun) -> tuple[Any, Any]:
    """The run's training split (exemplars come from it) and preprocessor, loaded once."""
    def load() -> tuple[Any, Any]:
        from genzoo.data import load_dataset

        data = run.info.run_config.data
        try:
            dataset = load_dataset(data.name, "train", data_dir=data.data_dir, download=False, progress=False, **data.options)
        except Exception as error:  # missing files and the like: one line to the page
            raise RequestError(f"the training images of {data.name} are needed for exemplars: {str(error).splitlines()[0]}", 409) from None
        return dataset, run.info.make_preprocessor()

    return run.cached("train", load)


def attribute_classifier(run: ExploreRun) -> Any:
    """The dataset's attribute classifier (cached on disk; fitted once when missing), or None without attributes."""
    dataset, _ = training_split(run)
    if not getattr(dataset, "attribute_values", None):
        return None

    def load() -> Any:
        from genzoo.metrics.attributes import load_attribute_classifier

        return load_attribute_classifier(dataset, dict(run.info.run_config.data.options)).classifier

    return run.cached("attribute-classifier", load)


def options(run: ExploreRun) -> dict[str, Any]:
    """What the page offers to build concepts from: attribute values, class names, a default expression."""
    dataset, _ = training_split(run)
    attributes = {name: list(values) for name, values in (getattr(dataset, "attribute_values", None) or {}).items()}
    classes = list(dataset.info.class_names or ())
    default = arith.DEFAULT_EXPRESSIONS.get(run.dataset_name)
    if default is None and len(classes) >= 3:
        default = " - ".join(_quoted(name) for name in classes[:2]) + " + " + _quoted(classes[2])
    source = arith.default_source(run.model, bool(attributes))
    return {"attributes": attributes, "classes": classes, "default": default, "source": source,
            "source_note": arith.SOURCE_DESCRIPTIONS[source], "matched": arith.resolve_matched(None, source, dataset),
            "verdicts": bool(attributes)}


def _quoted(name: str) -> str:
    return f"'{name}'" if " " in name else name


def run_arithmetic(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"expression", "exemplars", "results", "seed", "matched"} -> exemplars, concept means, results and verdicts (long pool)."""
    expression = text(body, "expression")
    exemplars = integer(body, "exemplars", arith.PAPER_EXEMPLARS, low=1, high=MAX_EXEMPLARS)
    results = integer(body, "results", 6, low=1, high=MAX_RESULTS)
    seed = integer(body, "seed", 0, low=0)
    matched = body.get("matched")
    if matched not in (None, True, False):
        raise RequestError(f"field 'matched' must be true, false or null (the default for the data), got {matched!r}")
    dataset, preprocessor = training_split(run)
    classifier = attribute_classifier(run)
    try:
        terms = arith.parse_expression(expression)
        result = arith.latent_arithmetic(run.model, terms, dataset=dataset, preprocessor=preprocessor, classifier=classifier,
                                         exemplars=exemplars, results=results, seed=seed, matched=matched, **INVERSION)
    except ValueError as error:  # a concept the dataset does not have, too few exemplars, ...
        raise RequestError(str(error).splitlines()[0]) from None
    expected, verdicts, seen, note = _verdicts(classifier, terms, result)
    return {
        "expression": arith.expression_name(terms),
        "source": result.source,
        "source_note": arith.SOURCE_DESCRIPTIONS[result.source],
        "matched": result.matched,
        "terms": [{"sign": "+" if term.sign > 0 else "-", "name": arith.concept_name(term.concept), "exemplars": png_urls(images),
                   "mean": None if result.matched else png_url(result.concept_images[index])}
                  for index, (term, images) in enumerate(zip(terms, result.exemplars))],
        "results": [{"image": png_url(image), "verdict": None if verdicts is None else verdicts[index],
                     "seen": None if seen is None else " ".join(seen[index].values())}
                    for index, image in enumerate(result.results)],
        "expected": expected,
        "verdict_note": note,
    }


def _verdicts(classifier: Any, terms: tuple, result: Any) -> tuple[dict | None, list | None, list | None, str]:
    """The expected mix, one verdict and one description per result, and a sentence about them."""
    if classifier is None:
        return None, None, None, "no attribute classifier for this dataset (classes only): judge the results by eye"
    seen = classifier.describe(result.results)
    try:
        expected = arith.expected_attributes(terms, classifier.attribute_values)
    except ValueError as error:
        return None, None, seen, f"no verdict: {str(error).splitlines()[0]}"
    verdicts = arith.result_verdicts(classifier, result.results, expected)
    wanted = " ".join(expected.values())
    return expected, verdicts, seen, f"attribute classifier: {sum(verdicts)} of {len(verdicts)} results show {wanted}"
