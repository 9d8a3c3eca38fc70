"""Turn a decoded RGB frame into the model's input, once per frame, as the model card says."""

from __future__ import annotations

import cv2
import numpy as np

from ..model.config import ModelCard


class Preprocessor:
    """(H, W, 3) uint8 RGB -> (3, S, S) float32: resize the shorter side to the card's
    `resize_shorter` (default: the crop size), centre-crop S = image_size, then
    `(pixel * value_scale + value_offset - mean) / std` per channel."""

    def __init__(self, card: ModelCard) -> None:
        self.size = card.image_size
        self.shorter = card.resize_shorter or card.image_size
        std = np.asarray(card.std, np.float32)
        # fold scale, offset, mean and std into one multiply-add per channel
        self._mul = (card.value_scale / std).astype(np.float32)
        self._add = ((card.value_offset - np.asarray(card.mean, np.float32)) / std).astype(np.float32)

    def resize_crop(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = self.shorter / min(h, w)
        nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (nw, nh), interpolation=interpolation)
        top, left = (nh - self.size) // 2, (nw - self.size) // 2
        return resized[top:top + self.size, left:left + self.size]

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), right and bottom exclusive: the region of a height x width
        frame that `resize_crop` keeps, in the frame's own pixels. A spatial attention map
        (nh, nw) covers this region, not the whole frame."""
        scale = self.shorter / min(height, width)
        nh, nw = max(self.size, round(height * scale)), max(self.size, round(width * scale))
        top, left = (nh - self.size) // 2, (nw - self.size) // 2
        sy, sx = height / nh, width / nw  # resized -> frame pixels, per axis
        box = (round(left * sx), round(top * sy), round((left + self.size) * sx), round((top + self.size) * sy))
        return max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        crop = self.resize_crop(image).astype(np.float32)  # (S, S, 3)
        return np.ascontiguousarray((crop * self._mul + self._add).transpose(2, 0, 1))  # (3, S, S)
