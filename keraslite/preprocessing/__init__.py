"""keraslite.preprocessing (`keras.preprocessing`): data preparation utilities for sequences,
text and images, with Keras 2.2/2.3 (keras_preprocessing 1.0/1.1) names, arguments and defaults.

Only NumPy is required; reading and writing image files (`load_img`, `save_img`,
`array_to_img`, `flow_from_directory`, `flow_from_dataframe`) additionally needs Pillow.
"""
from . import image, sequence, text

__all__ = ["image", "sequence", "text"]
