"""Latent arithmetic (genzoo.explore.arithmetic): parsing, concept resolution, figure, success rate."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.data.format import DataFormat
from genzoo.data.shapes import ATTRIBUTE_VALUES, COLOURS, SHAPES, rasterize
from genzoo.explore.arithmetic import (
    Concept,
    Term,
    arithmetic_success_rate,
    expected_attributes,
    latent_arithmetic,
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


@pytest.mark.parametrize("expression, message", [
    ("", "empty expression"),
    ("red -", "ends with an operator"),
    ("red blue", "missing operator before 'blue'"),
    ("+ red", "has no concept before it"),
    ("red - - blue", "has no concept before it"),
    ("colour=", "write key=value"),
    ("colour=red,colour=blue", "sets 'colour' twice"),
    ("red,blue", "combine conditions as key=value"),
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
    with pytest.raises(ValueError, match="bare word"):
        expected_attributes(parse_expression("red - blue + green"))


def test_concepts_resolve_against_the_dataset(shapes):
    assert resolve_concept(parse_expression("colour=red,shape=circle")[0].concept, shapes) == {"colour": 0, "shape": 0}
    assert resolve_concept(parse_expression("red")[0].concept, shapes) == {"colour": 0}
    assert resolve_concept(parse_expression("square")[0].concept, shapes) == {"label": 1}  # shapes' class names
    assert resolve_concept(parse_expression("label=2")[0].concept, shapes) == {"label": 2}
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
class FactorModel(GenerativeModel):
    """z = (shape scores (5), colour scores (7)); decode draws the argmax shape in the argmax colour."""

    name = "test-factors"
    capabilities = Capabilities(latent_decoder=True)

    def __init__(self) -> None:
        super().__init__(None, DataFormat(image_shape=(3, 28, 28), value_range=(-1.0, 1.0)))
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def sample_latent(self, n, *, temperature=1.0, generator=None):
        return torch.randn(n, len(SHAPES) + len(COLOURS), generator=generator)

    def decode(self, z, y=None):
        shape, colour = z[:, : len(SHAPES)].argmax(1), z[:, len(SHAPES) :].argmax(1)
        ones = torch.ones_like(shape)
        images = rasterize(shape, colour, ones, ones, ones, image_size=28, channels=3)
        return images.float() / 127.5 - 1


@dataclass
class TemplateJudge:
    """The AttributeClassifier interface, answering exactly by matching FactorModel's drawings."""

    attribute_values = {"shape": SHAPES, "colour": COLOURS}

    def predict_proba(self, images):
        k = torch.arange(len(SHAPES) * len(COLOURS))
        shape, colour, ones = k // len(COLOURS), k % len(COLOURS), torch.ones_like(k)
        templates = rasterize(shape, colour, ones, ones, ones, image_size=28, channels=3)  # (35, 3, 28, 28)
        match = (images[:, None] == templates[None]).flatten(2).all(2).float().argmax(1)  # (N,)
        return {
            "shape": torch.nn.functional.one_hot(shape[match], len(SHAPES)).float(),
            "colour": torch.nn.functional.one_hot(colour[match], len(COLOURS)).float(),
        }

    def predict(self, images):
        return {name: p.argmax(1) for name, p in self.predict_proba(images).items()}


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
    assert result.grid.shape == (3 * 4 + 8, 3, 28, 28)  # 3 rows of (3 exemplars + mean), 5 results + 3 blanks
    assert torch.equal(result.grid[3], result.concept_images[0]) and torch.equal(result.grid[12], result.results[0])
    assert result.grid[-3:].sum() == 0


def test_success_rate_finds_the_expected_mix_and_can_fail():
    model, judge = FactorModel(), TemplateJudge()
    score = arithmetic_success_rate(model, judge, RED_CIRCLE_EXPRESSION, trials=6, source="classify", results=5)
    assert score.expected == {"colour": "blue", "shape": "circle"}
    assert score.images == 30
    assert score.success_rate >= 0.7, score
    # Averaging 3 exemplars leaves noise in the other coordinates (seed 0 lands on green): a
    # wrong expectation scores low, not zero.
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
    assert result.grid.shape == (3 * 4 + 4, 3, 28, 28)


def test_arithmetic_refuses_what_it_cannot_do(shapes):
    model = FactorModel()
    with pytest.raises(ValueError, match="needs the dataset"):
        latent_arithmetic(model, "red - blue", source="invert")
    with pytest.raises(ValueError, match="needs an attribute classifier"):
        latent_arithmetic(model, "red - blue", source="classify")
    with pytest.raises(ValueError, match="choose one of invert, classify"):
        latent_arithmetic(model, "red - blue", source="sample")
    with pytest.raises(ValueError, match="only 0 of 16 samples"):
        latent_arithmetic(model, "colour=red,shape=circle", classifier=TemplateJudge(), source="classify", candidates=16)
    conditional = build_model_from_format("gan", DataFormat(image_shape=(1, 4, 4), value_range=(-1.0, 1.0), num_classes=2),
                                          {"latent_dim": 2, "generator_hidden": [4], "discriminator_hidden": [4], "conditional": True})
    with pytest.raises(ValueError, match="unconditional"):
        latent_arithmetic(conditional, "red - blue", dataset=shapes)
    assert set(ATTRIBUTE_VALUES) == {"shape", "colour", "size", "x", "y"}
