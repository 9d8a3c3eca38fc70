"""Draws resources/icon.png (and icon.ico for Windows builds): a video frame with a play
triangle and attention bars. Run: python resources/make_icon.py"""

from pathlib import Path

import cv2
import numpy as np

S = 256
here = Path(__file__).parent
img = np.zeros((S, S, 4), np.uint8)
mask = np.zeros((S, S), np.uint8)
cv2.rectangle(mask, (24, 24), (S - 24, S - 24), 255, -1)
mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((9, 9))), (0, 0), 1.0)  # soft rounded corners
grad = np.linspace(0, 1, S)[:, None]
for c, (top, bottom) in enumerate(((255, 120), (170, 70), (80, 30))):  # BGR: blue to deep blue
    img[..., c] = (top * (1 - grad) + bottom * grad).astype(np.uint8)
img[..., 3] = mask
tri = np.array([[92, 64], [92, 152], [170, 108]], np.int32)
cv2.fillPoly(img, [tri], (255, 255, 255, 255), cv2.LINE_AA)
for i, h in enumerate((20, 44, 30, 58, 36, 24)):
    x = 56 + i * 25
    cv2.rectangle(img, (x, 206 - h), (x + 16, 206), (60, 150, 255, 255), -1)
cv2.imwrite(str(here / "icon.png"), img)
print(here / "icon.png")
