"""Latent arithmetic (genzoo.explore.arithmetic): parsing, concept resolution, sources, figure, success rate against chance."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from torch.nn.functional import one_hot

from genzoo.data import load_dataset
from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.format import DataFormat
from genzoo.data.shapes import ATTRIBUTE_VALUES, COLOURS, SHAPES, rasterize
from genzoo.explore.arithmetic import (
    FRAME_HIT,
    FRAME_MISS,
    Concept,
    Term,
    arithmetic_figure,
    arithmetic_success_rate,
    default_source,
    expected_attributes,
    latent_arithmetic,
    resolve_source,
    result_verdicts,
    matching_indices,
    parse_expression,
    resolve_concept,
)
from genzoo.models import build_model_from_format
from genzoo.models.base import Capabilities, GenerativeModel

RED_CIRCLE_EXPRESSION = "colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square"


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", "train", n_train=400, n_test=10)


# ---- parsing ---------------------------------------------------------------------------------------------
def test_parse_signed_concepts():
    terms = parse_expression(RED_CIRCLE_EXPRESSION)
    assert [t.sign for t in terms] == [1, -1, 1]
    assert terms[0].concept.conditions == (("colour", "red"), ("shape", "circle"))
    assert terms[2].concept == Concept("colour=blue,shape=square", (("colour", "blue"), ("shape", "square")))
    assert [t.sign for t in parse_expression("- red + blue")] == [-1, 1]
    assert parse_expression("'ankle boot' - sneaker + T-shirt/top")[0] == Term(1, Concept("ankle boot", (("", "ankle boot"),)))
    assert parse_expression("T-shirt/top")[0].concept.text == "T-shirt/top"  # a hyphen inside a word is no operator
    assert parse_expression("red,shape=circle")[0].concept.conditions == (("", "red"), ("shape", "circle"))  # bare values join too


@pytest.mark.parametrize("expression, message", [
    ("", "empty expression"),
    ("red -", "ends with an operator"),
    ("red blue", "missing operator before 'blue'"),
    ("+ red", "has no concept before it"),
    ("red - - blue", "has no concept before it"),
    ("colour=", "write key=value"),
    ("colour=red,colour=blue", "sets 'colour' twice"),
    ("red,", "bad condition ''"),
    ("=red", "bad condition '=red'"),
    ("'red - blue", "cannot parse"),
])
def test_parse_errors_say_what_is_wrong(expression, message):
    with pytest.raises(ValueError, match=message):
        parse_expression(expression)


def test_expected_attributes_of_the_dcgan_style_expression():
    assert expected_attributes(parse_expression(RED_CIRCLE_EXPRESSION)) == {"colour": "blue", "shape": "circle"}
    assert expected_attributes(parse_expression("colour=red,size=large - colour=red + colour=green")) == {"size": "large", "colour": "green"}
    with pytest.raises(ValueError, match="does not resolve to one value"):
        expected_attributes(parse_expression("colour=red - colour=blue"))
    assert expected_attributes(parse_expression("red,circle - red,square + blue,square"), ATTRIBUTE_VALUES) == {"colour": "blue", "shape": "circle"}
    with pytest.raises(ValueError, match="cannot tell which attribute 'red' is"):
        expected_attributes(parse_expression("red - blue + green"))  # bare words need the attribute values
    with pytest.raises(ValueError, match="does not resolve to one value"):
        expected_attributes(parse_expression("red - blue + green"), ATTRIBUTE_VALUES)


def test_concepts_resolve_against_the_dataset(shapes):
    assert resolve_concept(parse_expression("colour=red,shape=circle")[0].concept, shapes) == {"colour": 0, "shape": 0}
    assert resolve_concept(parse_expression("red")[0].concept, shapes) == {"colour": 0}
    assert resolve_concept(parse_expression("square")[0].concept, shapes) == {"shape": 1}  # an attribute value before a class name
    assert resolve_concept(parse_expression("label=square")[0].concept, shapes) == {"label": 1}  # shapes' class names
    assert resolve_concept(parse_expression("label=2")[0].concept, shapes) == {"label": 2}
    assert resolve_concept(parse_expression("label=Square")[0].concept, shapes) == {"label": 1}  # class names ignore case
    indices = matching_indices(shapes, {"colour": 2, "shape": 1})
    assert len(indices) > 0
    assert (shapes.attributes["colour"][indices] == 2).all() and (shapes.attributes["shape"][indices] == 1).all()
    with pytest.raises(ValueError, match="choose one of red, green, blue"):
        resolve_concept(parse_expression("colour=purple")[0].concept, shapes)
    with pytest.raises(ValueError, match="unknown attribute 'hue'"):
        resolve_concept(parse_expression("hue=red")[0].concept, shapes)
    with pytest.raises(ValueError, match="unknown concept 'purple'"):
        resolve_concept(parse_expression("purple")[0].concept, shapes)


# ---- a latent space with known structure, and an exact judge ---------------------------------------------
def factor_images(shape: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, 28, 28): medium shapes in the centre, so (shape, colour) alone decide the image."""
    ones = torch.ones_like(shape)
    return rasterize(shape, colour, ones, ones, ones, image_size=28, channels=3)


class FactorModel(GenerativeModel):
    """z = (shape scores (5), colour scores (7)); decode draws the argmax shape in the argmax colour.

    encode is its exact inverse on factor_images (one-hot scores), so "A - B + C" on encoded
    exemplars is exact; encoder="scrambled" returns a fixed random code per image instead.
    """

    name = "test-factors"
    capabilities = Capabilities(encoder=True, latent_decoder=True)

    def __init__(self, encoder: str = "exact") -> None:
        super().__init__(None, DataFormat(image_shape=(3, 28, 28), value_range=(-1.0, 1.0)))
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.encoder = encoder

    def sample_latent(self, n, *, temperature=1.0, generator=None):
        return torch.randn(n, len(SHAPES) + len(COLOURS), generator=generator, device=self.device)

    def decode(self, z, y=None):
        return factor_images(z[:, : len(SHAPES)].argmax(1), z[:, len(SHAPES) :].argmax(1)).float() / 127.5 - 1

    def encode(self, x, y=None):
        images = ((x + 1) * 127.5).round().to(torch.uint8)
        if self.encoder == "scrambled":
            seeds = images.flatten(1).long().sum(1) * 7919 + images.flatten(1).argmax(1)
            return torch.stack([torch.randn(len(SHAPES) + len(COLOURS), generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        predicted = TemplateJudge().predict(images)
        return torch.cat([one_hot(predicted["shape"], len(SHAPES)), one_hot(predicted["colour"], len(COLOURS))], 1).float()


@dataclass
class TemplateJudge:
    """The AttributeClassifier interface, answering exactly by matching FactorModel's drawings."""

    attribute_values = {"shape": SHAPES, "colour": COLOURS}

    def predict_proba(self, images):
        k = torch.arange(len(SHAPES) * len(COLOURS))
        shape, colour = k // len(COLOURS), k % len(COLOURS)
        templates = factor_images(shape, colour)  # (35, 3, 28, 28)
        match = (images[:, None] == templates[None]).flatten(2).all(2).float().argmax(1)  # (N,)
        return {"shape": one_hot(shape[match], len(SHAPES)).float(), "colour": one_hot(colour[match], len(COLOURS)).float()}

    def predict(self, images):
        return {name: p.argmax(1) for name, p in self.predict_proba(images).items()}


@pytest.fixture(scope="module")
def factor_data():
    """An in-memory dataset of factor_images: 700 images, every (shape, colour) pair 20 times."""
    count = 700
    shape, colour = torch.arange(count) % len(SHAPES), (torch.arange(count) // len(SHAPES)) % len(COLOURS)
    info = DatasetInfo("factors", (3, 28, 28), 256, len(SHAPES), ("train",), SHAPES, "test factors")
    return ImageDataset(info, "train", factor_images(shape, colour), shape, {"shape": shape, "colour": colour},
                        {"shape": SHAPES, "colour": COLOURS})


def test_the_default_source_follows_the_models_capabilities():
    assert default_source(FactorModel(), has_classifier=True) == "encode"
    gan = build_model_from_format("dcgan", DataFormat(image_shape=(3, 32, 32), value_range=(-1.0, 1.0)),
                                  {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4})
    assert default_source(gan, has_classifier=True) == "classify"
    assert default_source(gan, has_classifier=False) == "invert"
    with pytest.raises(ValueError, match="has no encoder"):
        resolve_source("encode", gan, True)
    with pytest.raises(ValueError, match="needs an attribute classifier"):
        resolve_source("classify", gan, False)


def test_encoded_exemplars_make_the_arithmetic_exact(factor_data):
    """mean(one-hot red circle) - mean(red square) + mean(blue square) = one-hot blue circle: every result succeeds."""
    model, judge = FactorModel(), TemplateJudge()
    result = latent_arithmetic(model, RED_CIRCLE_EXPRESSION, dataset=factor_data, results=5, seed=3)
    assert result.source == "encode"
    for images, (shape, colour) in zip(result.exemplars, [("circle", "red"), ("square", "red"), ("square", "blue")]):
        assert (judge.predict(images)["shape"] == SHAPES.index(shape)).all()
        assert (judge.predict(images)["colour"] == COLOURS.index(colour)).all()
    expected_code = torch.zeros(12)
    expected_code[SHAPES.index("circle")] = expected_code[len(SHAPES) + COLOURS.index("blue")] = 1
    assert torch.allclose(result.result_latent, expected_code)
    score = arithmetic_success_rate(model, judge, RED_CIRCLE_EXPRESSION, dataset=factor_data, trials=4, results=5, candidates=2000)
    assert score.source == "encode" and score.images == 20
    assert score.success_rate == 1.0 and score.attribute_rates == {"colour": 1.0, "shape": 1.0}
    assert 0.01 < score.chance_rate < 0.06, score.chance_rate  # 1/35 of plain samples are blue circles
    assert score.uniform_chance == pytest.approx(1 / 35)
    assert torch.equal(score.example.results, latent_arithmetic(model, RED_CIRCLE_EXPRESSION, dataset=factor_data, results=5, seed=0).results)


def test_matched_exemplars_differ_only_in_their_concepts_own_attributes():
    shapes = load_dataset("shapes", "train", n_train=6000, n_test=10)
    attributes_of = {bytes(image.numpy()): {name: int(values[i]) for name, values in shapes.attributes.items()} for i, image in enumerate(shapes.images)}
    result = latent_arithmetic(FactorModel(), "green,triangle - green + yellow", dataset=shapes, exemplars=4, results=6, seed=2)
    assert result.matched and result.nrow == 4 and result.grid.shape == (3 * 4 + 8, 3, 28, 28)  # no mean column
    rows = [[attributes_of[bytes(image.numpy())] for image in images] for images in result.exemplars]  # (T, k) attribute dicts
    green, yellow, triangle = COLOURS.index("green"), COLOURS.index("yellow"), SHAPES.index("triangle")
    for a, b, c in zip(*rows):
        assert (a["colour"], a["shape"], b["colour"], c["colour"]) == (green, triangle, green, yellow)
        assert a["size"] == b["size"] == c["size"] and a["x"] == b["x"] == c["x"] and a["y"] == b["y"] == c["y"]
        assert b["shape"] == c["shape"]  # free in both: shared
    assert len({(r["size"], r["x"], r["y"]) for r in rows[0]}) > 1, "slots should differ from each other"
    stacked = torch.stack(result.exemplar_latents)  # (3, 4, 12)
    per_slot = stacked[0] - stacked[1] + stacked[2]  # (4, 12)
    assert torch.allclose(result.result_latents[:4], per_slot) and torch.allclose(result.result_latents[4:6] * 0, (result.result_latents[4:6] - per_slot[:2]) * 0)
    assert not torch.allclose(result.result_latents[4:6], per_slot[:2]), "results past the k analogies carry noise"
    figure = arithmetic_figure(result)
    assert figure.column_labels == ("1", "2", "3", "4") and figure.row_labels == ("+ green triangle", "- green", "+ yellow", "= result", "+ noise")
    unmatched = latent_arithmetic(FactorModel(), "green,triangle - green + yellow", dataset=shapes, matched=False, exemplars=4, results=6, seed=2)
    assert not unmatched.matched and unmatched.nrow == 5 and torch.allclose(unmatched.result_latents[0], unmatched.result_latent)
    assert unmatched.grid.shape == (3 * 5 + 10, 3, 28, 28)  # 5 noisy results over 4 exemplar columns: 2 result rows
    with pytest.raises(ValueError, match="matched exemplars need dataset images with attributes"):
        latent_arithmetic(FactorModel(), RED_CIRCLE_EXPRESSION, classifier=TemplateJudge(), source="classify", matched=True)


def test_a_scrambled_encoder_scores_near_chance(factor_data):
    score = arithmetic_success_rate(FactorModel("scrambled"), TemplateJudge(), RED_CIRCLE_EXPRESSION, dataset=factor_data,
                                    trials=10, results=9, candidates=2000)
    assert score.images == 90
    assert score.success_rate <= 0.12, score  # chance is 1/35; exact arithmetic gives 1.0
    assert score.attribute_rates["colour"] <= 0.35 and score.attribute_rates["shape"] <= 0.45, score


def test_classified_exemplars_show_their_concepts_and_the_figure_is_laid_out():
    model, judge = FactorModel(), TemplateJudge()
    result = latent_arithmetic(model, RED_CIRCLE_EXPRESSION, classifier=judge, source="classify", exemplars=3, results=5, seed=1)
    expected = [("circle", "red"), ("square", "red"), ("square", "blue")]
    for images, (shape, colour) in zip(result.exemplars, expected):
        predicted = judge.predict(images)
        assert images.shape == (3, 3, 28, 28)
        assert (predicted["shape"] == SHAPES.index(shape)).all() and (predicted["colour"] == COLOURS.index(colour)).all()
    assert torch.allclose(result.concept_latents[0], result.exemplar_latents[0].mean(0))
    signs = torch.tensor([1.0, -1.0, 1.0])[:, None]
    assert torch.allclose(result.result_latent, (signs * result.concept_latents).sum(0))
    assert result.results.shape == (5, 3, 28, 28) and result.results.dtype == torch.uint8
    assert result.nrow == 4
    assert result.grid.shape == (3 * 4 + 8, 3, 28, 28)  # 3 rows of (3 exemplars + mean), then 2 result rows
    assert torch.equal(result.grid[3], result.concept_images[0])
    assert torch.equal(result.grid[15], result.results[0])  # G(Y) in the mean column, under the concepts' means
    assert torch.equal(result.grid[12:15], result.results[1:4]) and torch.equal(result.grid[16], result.results[4])  # G(Y + u)
    assert result.grid[17:].sum() == 0

    verdicts = result_verdicts(judge, result.results, {"colour": "blue", "shape": "circle"})
    figure = arithmetic_figure(result, verdicts=verdicts, expected={"colour": "blue", "shape": "circle"})
    assert figure.images.shape == (20, 3, 30, 30) and figure.nrow == 4
    assert figure.row_labels == ("+ red circle", "- red square", "+ blue square", "= result", "= result")
    assert figure.labels()["column_labels"] == ("1", "2", "3", "mean") and "decoded mean" in figure.column_title
    assert f"{sum(verdicts)} of 5 results show blue circle" in figure.title
    for cell, index in zip(range(12, 20), [1, 2, 3, 0, 4, None, None, None]):
        if index is None:
            assert (figure.images[cell] == 255).all()  # blank cells are white
        else:  # result frames: green for a hit, red for a miss
            assert torch.equal(figure.images[cell, :, 1:-1, 1:-1], result.results[index])
            assert figure.images[cell, :, 0, 0].tolist() == (list(FRAME_HIT) if verdicts[index] else list(FRAME_MISS))


def test_success_rate_with_classified_exemplars_and_a_wrong_expectation():
    model, judge = FactorModel(), TemplateJudge()
    score = arithmetic_success_rate(model, judge, RED_CIRCLE_EXPRESSION, trials=6, source="classify", results=5)
    assert score.expected == {"colour": "blue", "shape": "circle"}
    assert score.source == "classify" and score.images == 30
    # Random prior samples that merely show the concept: their means carry noise in the other
    # coordinates, so not every result succeeds, but far more than plain samples (1/35).
    assert score.success_rate >= 0.4 and score.success_rate >= 10 * score.chance_rate, score
    # A wrong expectation scores low, not zero.
    wrong = arithmetic_success_rate(model, judge, RED_CIRCLE_EXPRESSION, expected={"colour": "green"}, trials=6, source="classify", results=5)
    assert wrong.success_rate <= 0.34
    assert wrong.success_rate + score.attribute_rates["colour"] <= 1.0
    with pytest.raises(ValueError, match="not an attribute value"):
        arithmetic_success_rate(model, judge, RED_CIRCLE_EXPRESSION, expected={"colour": "mauve"}, trials=1, source="classify")


def test_inverted_exemplars_are_dataset_images_of_the_concept(shapes):
    torch.manual_seed(0)
    model = build_model_from_format("dcgan", DataFormat(image_shape=(3, 28, 28), value_range=(-1.0, 1.0)),
                                    {"latent_dim": 8, "generator_channels": 4, "discriminator_channels": 4})
    result = latent_arithmetic(model, "colour=red - colour=green + colour=blue", dataset=shapes, source="invert",
                               exemplars=3, results=2, inversion_steps=5, inversion_restarts=1)
    pool = {bytes(image.numpy()): (int(c)) for image, c in zip(shapes.images, shapes.attributes["colour"])}
    for images, colour in zip(result.exemplars, ("red", "green", "blue")):
        assert all(pool[bytes(image.numpy())] == COLOURS.index(colour) for image in images)
    assert [z.shape for z in result.exemplar_latents] == [(3, 8)] * 3
    assert result.matched and result.grid.shape == (3 * 3 + 3, 3, 28, 28)  # 3 rows of 3 exemplars, 2 results + 1 blank


def test_arithmetic_refuses_what_it_cannot_do(shapes):
    model = FactorModel()
    with pytest.raises(ValueError, match="source=encode needs the dataset"):
        latent_arithmetic(model, "red - blue")
    with pytest.raises(ValueError, match="needs an attribute classifier"):
        latent_arithmetic(model, "red - blue", source="classify")
    with pytest.raises(ValueError, match="choose one of auto, encode, classify, invert"):
        latent_arithmetic(model, "red - blue", source="sample")
    with pytest.raises(ValueError, match="only 0 of 16 samples"):
        latent_arithmetic(model, "colour=red,shape=circle", classifier=TemplateJudge(), source="classify", candidates=16)
    with pytest.raises(ValueError, match="only 0 images"):
        latent_arithmetic(model, "colour=red,shape=circle", dataset=load_dataset("shapes", "train", n_train=5, n_test=1))
    conditional = build_model_from_format("gan", DataFormat(image_shape=(1, 4, 4), value_range=(-1.0, 1.0), num_classes=2),
                                          {"latent_dim": 2, "generator_hidden": [4], "discriminator_hidden": [4], "conditional": True})
    with pytest.raises(ValueError, match="unconditional"):
        latent_arithmetic(conditional, "red - blue", dataset=shapes)
    assert set(ATTRIBUTE_VALUES) == {"shape", "colour", "size", "x", "y"}
