"""Image-to-image models for the paired tasks of genzoo.data.tasks; importing registers them."""

from genzoo.models.translation import conditional_pixelcnn  # noqa: F401  (registers "conditional-pixelcnn")
from genzoo.models.translation import pix2pix  # noqa: F401  (registers "pix2pix")
from genzoo.models.translation import regress  # noqa: F401  (registers "regress")
